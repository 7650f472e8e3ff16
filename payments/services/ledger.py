"""The ledger's state changes that every path shares: a payment succeeded (the invoice becomes
paid when the ledger covers its amount due), a payment failed (dunning), the invoice settled."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction

from billing.errors import AppError, ErrorKind
from invoices.models import Invoice, InvoiceStatus
from invoices.services import invoice_mark_uncollectible
from payments.emails import email_payment_failed
from payments.models import Payment, PaymentStatus
from payments.selectors import OPEN, invoice_amount_remaining, invoice_dunning_state
from payments.signals import invoice_paid, payment_failed, payment_succeeded

logger = logging.getLogger(__name__)


class PaymentStateError(AppError):
    """The invoice or payment's status does not allow the action (answered 409)."""

    def __init__(self, message):
        super().__init__(message, kind=ErrorKind.CONFLICT)


def locked_invoice(invoice_id: int) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=invoice_id)
    )


def invoice_settle(*, invoice_id: int, at: datetime) -> Invoice:
    """Mark the invoice paid at `at` once the ledger covers its amount due (a partly paid
    invoice stays open with its remainder). Safe to call again: a paid invoice stays as is."""
    with transaction.atomic():
        invoice = locked_invoice(invoice_id)
        if invoice.status not in OPEN or invoice_amount_remaining(invoice=invoice) > 0:
            return invoice
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = at
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
        # The stored PDF lacks its PAID stamp now: the PDF link and the render-missing-invoice-
        # pdfs schedule render it again (invoices.documents.invoice_pdf_is_current).
        invoice_paid.send(sender=Invoice, invoice=invoice, at=at)
    return invoice


def payment_mark_succeeded(*, payment_id: int, at: datetime, charge_id: str = "") -> Payment:
    """A payment went through: record it once and settle its invoice. A payment that already
    succeeded (or was refunded since) is left alone, so a replayed webhook changes nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            return payment
        payment.status = PaymentStatus.SUCCEEDED
        payment.settled_at = at
        payment.failure_code = payment.failure_message = ""
        payment.stripe_charge_id = charge_id or payment.stripe_charge_id
        payment.save()
        payment_succeeded.send(sender=Payment, payment=payment, at=at)
        invoice_settle(invoice_id=payment.invoice_id, at=at)
    return payment


def payment_mark_failed(
    *, payment_id: int, at: datetime, failure_code: str, failure_message: str
) -> Payment:
    """A payment attempt failed: record why, then dunning — email the customer with the hosted
    link and the next retry, or, after the last retry, mark the invoice uncollectible
    (PAYMENT_UNCOLLECTIBLE_AFTER_LAST_RETRY). Only a pending payment can fail: a late or
    replayed failure of a payment that succeeded meanwhile changes nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        payment.status = PaymentStatus.FAILED
        payment.settled_at = at
        payment.failure_code = failure_code[:100]
        payment.failure_message = failure_message[:500]
        payment.save()
        payment_failed.send(sender=Payment, payment=payment, at=at)
        invoice = locked_invoice(payment.invoice_id)
        if payment.attempt is None or invoice.status != InvoiceStatus.FINALIZED:
            return payment
        state = invoice_dunning_state(invoice=invoice)
        if state.exhausted and settings.PAYMENT_UNCOLLECTIBLE_AFTER_LAST_RETRY:
            try:
                invoice = invoice_mark_uncollectible(invoice=invoice, at=at)
            except AppError:  # pragma: no cover - checked just above under the lock
                logger.warning("Invoice %s could not be marked uncollectible", invoice)
        remaining = invoice_amount_remaining(invoice=invoice)
        transaction.on_commit(
            lambda: email_payment_failed(
                invoice=invoice,
                amount_remaining=remaining,
                failure_message=payment.failure_message,
                next_retry_at=state.next_retry_at,
            )
        )
    return payment
