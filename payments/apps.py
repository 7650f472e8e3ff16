from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        from invoices.balances import register_balance_provider
        from invoices.models import CreditNoteOutcome
        from invoices.services.credit_notes import register_outcome_handler
        from invoices.signals import credit_note_issued, invoice_finalized
        from payments.selectors import invoice_balances
        from payments.services.credit_notes import credit_note_refund, on_credit_note_issued
        from payments.services.credit_purchases import on_invoice_paid
        from payments.services.finalization import on_invoice_finalized
        from payments.signals import invoice_paid

        invoice_finalized.connect(on_invoice_finalized, dispatch_uid="payments.on_finalized")
        register_balance_provider(invoice_balances)
        invoice_paid.connect(on_invoice_paid, dispatch_uid="payments.credit_purchase_paid")
        register_outcome_handler(CreditNoteOutcome.REFUND, credit_note_refund)
        credit_note_issued.connect(on_credit_note_issued, dispatch_uid="payments.credit_note")
