from django.apps import AppConfig


class FinanceConfig(AppConfig):
    """Finance: revenue recognition, the monthly revenue report, CSV exports and the
    receivables aging (docs/operations.md, "Finance").

    At the top of the layers: it reads invoices, credit notes and payments (none imports it)
    and writes only its own recognition schedules."""

    name = "finance"
    verbose_name = "Finance"

    def ready(self):
        from finance.services import on_invoice_finalized
        from invoices.signals import invoice_finalized

        invoice_finalized.connect(on_invoice_finalized, dispatch_uid="finance.revenue")
