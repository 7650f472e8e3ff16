from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Platform"

    def ready(self):
        from django.db.models.signals import post_migrate

        from billing.audit import (
            audit_log_issued_invoice,
            audit_log_issued_invoices,
            audit_register_models,
        )
        from billing.roles import roles_on_post_migrate
        from invoices.signals import invoice_finalized, invoices_finalized_together

        post_migrate.connect(roles_on_post_migrate, dispatch_uid="billing.roles")

        audit_register_models()
        invoice_finalized.connect(
            lambda sender, invoice, together=False, **kwargs: (
                None if together else audit_log_issued_invoice(invoice=invoice)
            ),
            weak=False,
            dispatch_uid="billing.audit.issued_invoice",
        )
        invoices_finalized_together.connect(
            lambda sender, invoices, lines=None, **kwargs: audit_log_issued_invoices(
                invoices=invoices, created=lines is not None
            ),
            weak=False,
            dispatch_uid="billing.audit.issued_invoices",
        )
