"""Admin of invoices, and the customer page's upcoming invoice (registered on import)."""

from invoices.admin import credit_notes, customers, invoices  # noqa: F401
