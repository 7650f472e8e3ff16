"""What payments does when an invoice is finalized (the invoices app's invoice_finalized
signal, connected in payments/apps.py): a zero amount due is paid at once; anything else is
charged off-session on commit when the Stripe gateway is on."""

from django.db import transaction
from django_q.tasks import async_task

from invoices.models import Invoice, InvoiceKind, InvoiceStatus
from payments.gateway import stripe_enabled
from payments.signals import invoice_paid

ATTEMPT_TASK = "payments.tasks.attempt_payment_task"


def on_invoice_finalized(sender, invoice: Invoice, **kwargs) -> None:
    """Runs inside the finalizing transaction, with the invoice row locked by it."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return  # money goes the other way: nothing to collect
    if invoice.amount_due - invoice.amount_credited <= 0:  # next-invoice credit notes
        at = invoice.issued_at
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, paid_at=at)
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, at
        invoice_paid.send(sender=Invoice, invoice=invoice, at=at)
        return
    if stripe_enabled():
        invoice_id = invoice.pk
        transaction.on_commit(lambda: async_task(ATTEMPT_TASK, invoice_id))
