from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Platform"

    def ready(self):
        from billing.audit import audit_log_issued_invoice, audit_register_models
        from invoices.signals import invoice_finalized

        audit_register_models()
        invoice_finalized.connect(
            lambda sender, invoice, **kwargs: audit_log_issued_invoice(invoice=invoice),
            weak=False,
            dispatch_uid="billing.audit.issued_invoice",
        )
