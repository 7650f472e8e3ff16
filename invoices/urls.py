"""API routes of the invoices app, mounted under /api/v1/."""

urlpatterns: list = []
