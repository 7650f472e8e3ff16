from django.apps import AppConfig


class FinanceConfig(AppConfig):
    """Finance: revenue recognition, the monthly revenue report, CSV exports and the
    receivables aging (docs/operations.md, "Finance").

    At the top of the layers: it reads invoices, credit notes and payments (none imports it)
    and writes only its own recognition schedules."""

    name = "finance"
    verbose_name = "Finance"

    def ready(self):
        from finance.services import (
            on_credit_note_issued,
            on_invoice_finalized,
            on_invoices_finalized_together,
        )
        from invoices.signals import (
            credit_note_issued,
            invoice_finalized,
            invoices_finalized_together,
        )

        invoice_finalized.connect(on_invoice_finalized, dispatch_uid="finance.revenue")
        invoices_finalized_together.connect(
            on_invoices_finalized_together, dispatch_uid="finance.revenue_together"
        )
        credit_note_issued.connect(on_credit_note_issued, dispatch_uid="finance.revenue")
