"""What payments does for credit notes (docs/operations.md, "Credit notes"): refund the
already-paid part of a `refund` note through the invoice's payments (the newest first, each
through its gateway: Stripe or recorded as given back for a manual one), and settle the
invoice once a note leaves nothing to pay on it. Registered in payments/apps.py."""

from datetime import datetime
from decimal import Decimal

from billing.errors import AppError
from catalog.currencies import format_money
from invoices.models import CreditNote
from payments.gateway import GatewayError
from payments.models import COLLECTED, Payment
from payments.selectors import payment_refunded
from payments.services.ledger import invoice_settle
from payments.services.refunds import payment_refund

ZERO = Decimal("0")


def credit_note_refund(*, credit_note: CreditNote, amount: Decimal, at: datetime) -> None:
    """Give `amount` back through the invoice's collected payments, newest first."""
    payments = list(
        Payment.objects.filter(invoice_id=credit_note.invoice_id, status__in=COLLECTED).order_by(
            "-created_at", "-id"
        )
    )
    refundable = [
        (payment, payment.amount - payment_refunded(payment=payment)) for payment in payments
    ]
    available = sum((left for _, left in refundable), ZERO)
    if available < amount:
        raise AppError.conflict(
            f"Only {format_money(available, credit_note.currency)} {credit_note.currency} of "
            f"invoice {credit_note.invoice} was paid and can be refunded; credit the rest to "
            'the wallet or the next invoice (outcome "wallet" or "next_invoice").'
        )
    left = amount
    first = None
    for payment, refundable_amount in refundable:
        if left <= 0:
            break
        part = min(left, refundable_amount)
        if part <= 0:
            continue
        try:
            refund = payment_refund(
                payment=payment, at=at, amount=part, reason=f"Credit note {credit_note.number}"
            )
        except GatewayError as error:
            # The whole note rolls back; nothing was refunded by this call.
            raise AppError.conflict(
                f"The refund could not be made: {error}. Nothing was credited; try again."
            ) from None
        first = first or refund
        left -= part
    CreditNote.objects.filter(pk=credit_note.pk).update(refund_id=first.pk)
    credit_note.refund_id = first.pk


def on_credit_note_issued(sender, credit_note: CreditNote, at: datetime, **kwargs) -> None:
    """The invoice becomes paid when the note leaves nothing to pay on it."""
    invoice_settle(invoice_id=credit_note.invoice_id, at=at)
