"""Manual payments: a bank transfer, cheque or cash an operator records against an invoice."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.currencies import currency_exponent, format_money, round_to_currency
from invoices.models import Invoice
from payments.models import Gateway, Payment, PaymentMethod, PaymentStatus
from payments.selectors import OPEN, invoice_amount_remaining
from payments.services.ledger import PaymentStateError, invoice_settle, locked_invoice
from payments.signals import payment_succeeded

MANUAL_METHODS = [
    PaymentMethod.BANK_TRANSFER,
    PaymentMethod.CHEQUE,
    PaymentMethod.CASH,
    PaymentMethod.OTHER,
]
MAX_REFERENCE = 200
MAX_IDEMPOTENCY_KEY = 64


def payment_record_manual(
    *,
    invoice: Invoice,
    amount: Decimal,
    method: str,
    at: datetime,
    reference: str = "",
    paid_at: datetime | None = None,
    idempotency_key: str = "",
) -> Payment:
    """Record money received outside Stripe. The amount must be positive, in the invoice's
    currency decimals and at most what is still owed (an over-payment is refused); `paid_at`
    (default `at`) may not be in the future nor before the invoice was issued. The invoice is
    paid once covered. With `idempotency_key`, a repeated call returns the first payment."""
    key = f"manual:{invoice.pk}:{idempotency_key}" if idempotency_key else None
    if key and (existing := Payment.objects.filter(idempotency_key=key).first()):
        return existing
    paid_at = paid_at or at
    _validate(invoice=invoice, amount=amount, method=method, reference=reference)
    try:
        with transaction.atomic():
            invoice = locked_invoice(invoice.pk)
            if invoice.status not in OPEN:
                raise PaymentStateError(
                    f"Invoice {invoice} is {invoice.status}: payments are recorded on finalized "
                    "or uncollectible invoices only."
                )
            if paid_at > at:
                raise ValidationError({"paid_at": ["A payment cannot be dated in the future."]})
            if invoice.issued_at and paid_at < invoice.issued_at.replace(
                hour=0, minute=0, second=0, microsecond=0
            ):
                raise ValidationError(
                    {"paid_at": [f"Invoice {invoice} was issued on {invoice.issued_at:%Y-%m-%d}."]}
                )
            remaining = invoice_amount_remaining(invoice=invoice)
            if amount > remaining:
                raise ValidationError(
                    {
                        "amount": [
                            f"Over-payment: {format_money(amount, invoice.currency)} is more "
                            f"than the {format_money(remaining, invoice.currency)} "
                            f"{invoice.currency} still owed on invoice {invoice}."
                        ]
                    }
                )
            payment = Payment.objects.create(
                invoice=invoice,
                gateway=Gateway.MANUAL,
                amount=amount,
                currency=invoice.currency,
                status=PaymentStatus.SUCCEEDED,
                method=method,
                reference=reference,
                settled_at=paid_at,
                idempotency_key=key,
            )
            payment_succeeded.send(sender=Payment, payment=payment, at=at)
            invoice_settle(invoice_id=invoice.pk, at=paid_at)
    except IntegrityError:
        if key and (existing := Payment.objects.filter(idempotency_key=key).first()):
            return existing  # the same request, recorded by a concurrent call
        raise
    return payment


def _validate(*, invoice: Invoice, amount: Decimal, method: str, reference: str) -> None:
    errors = {}
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors["amount"] = ["Must be a positive amount."]
    elif round_to_currency(amount, invoice.currency) != amount:
        decimals = currency_exponent(invoice.currency)
        errors["amount"] = [f"{invoice.currency} amounts have at most {decimals} decimals."]
    if method not in MANUAL_METHODS:
        errors["method"] = [f"Choose one of {', '.join(MANUAL_METHODS)}."]
    if len(reference) > MAX_REFERENCE:
        errors["reference"] = [f"At most {MAX_REFERENCE} characters."]
    if errors:
        raise ValidationError(errors)
