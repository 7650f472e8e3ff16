"""Refunds, in full or in part: through Stripe for a Stripe payment (idempotency key
`payment:<id>:refund:<n>`), recorded as given back for a manual one. Each is a ledger row."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from catalog.currencies import currency_exponent, format_money, round_to_currency
from payments.gateway import stripe_refund
from payments.models import COLLECTED, Gateway, Payment, PaymentStatus, Refund
from payments.selectors import payment_refunded
from payments.services.ledger import PaymentStateError
from payments.stripe_units import from_stripe_amount, to_stripe_amount

MAX_REASON = 300


def _status_after_refunds(payment: Payment) -> str:
    refunded = payment_refunded(payment=payment)
    if refunded <= 0:
        return PaymentStatus.SUCCEEDED
    return (
        PaymentStatus.REFUNDED if refunded >= payment.amount else PaymentStatus.PARTIALLY_REFUNDED
    )


def refund_record(
    *, payment: Payment, amount: Decimal, at: datetime, stripe_refund_id=None, provider_amount=None
) -> Refund:
    """Append a refund row once (a Stripe refund id is recorded once, whoever sees it first:
    our call or its webhook) and update the payment's status."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if stripe_refund_id and (found := Refund.objects.filter(stripe_refund_id=stripe_refund_id)):
            return found.get()
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    payment=payment,
                    amount=amount,
                    provider_amount=provider_amount,
                    stripe_refund_id=stripe_refund_id,
                    refunded_at=at,
                )
        except IntegrityError:
            return Refund.objects.get(stripe_refund_id=stripe_refund_id)
        payment.status = _status_after_refunds(payment)
        payment.save(update_fields=["status", "updated_at"])
    return refund


def payment_refund(
    *, payment: Payment, at: datetime, amount: Decimal | None = None, reason: str = ""
) -> Refund:
    """Give back `amount` (default: all that is not refunded yet) of a collected payment.
    More than is left to refund, or a payment that did not succeed, is refused."""
    if payment.status not in COLLECTED:
        raise PaymentStateError(f"Payment {payment.pk} is {payment.status}: nothing to refund.")
    refundable = payment.amount - payment_refunded(payment=payment)
    if amount is None:
        amount = refundable
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": ["Must be a positive amount."]})
    if round_to_currency(amount, payment.currency) != amount:
        raise ValidationError(
            {
                "amount": [
                    f"{payment.currency} amounts have at most "
                    f"{currency_exponent(payment.currency)} decimals."
                ]
            }
        )
    if amount > refundable:
        raise ValidationError(
            {
                "amount": [
                    f"Only {format_money(refundable, payment.currency)} {payment.currency} of "
                    f"payment {payment.pk} is left to refund."
                ]
            }
        )
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": [f"At most {MAX_REASON} characters."]})
    if payment.gateway == Gateway.MANUAL:
        refund = refund_record(payment=payment, amount=amount, at=at)
    else:
        refund = _refund_through_stripe(
            payment=payment, amount=amount, refundable=refundable, at=at
        )
    if reason:
        Refund.objects.filter(pk=refund.pk).update(reason=reason)
        refund.reason = reason
    return refund


def _refund_through_stripe(*, payment: Payment, amount, refundable, at) -> Refund:
    if not payment.stripe_payment_intent_id:
        raise PaymentStateError(f"Payment {payment.pk} has no Stripe PaymentIntent to refund.")
    if amount == refundable and payment.provider_amount:
        # All of what is left: exactly what Stripe still holds, whatever its rounding.
        given = payment.refunds.aggregate(total=Sum("provider_amount"))["total"] or 0
        provider_amount = payment.provider_amount - given
    else:
        provider_amount = to_stripe_amount(amount, payment.currency)
    number = payment.refunds.count() + 1
    refunded = stripe_refund(
        payment_intent_id=payment.stripe_payment_intent_id,
        provider_amount=provider_amount,
        idempotency_key=f"payment:{payment.pk}:refund:{number}",
    )
    return refund_record(
        payment=payment,
        amount=amount,
        at=at,
        stripe_refund_id=refunded.id,
        provider_amount=provider_amount,
    )


def refunds_from_stripe_charge(*, payment: Payment, charge: dict, at: datetime) -> int:
    """charge.refunded: record each refund of the charge not known yet (made in Stripe's
    dashboard, say); returns how many were new."""
    new = 0
    for refund in (charge.get("refunds") or {}).get("data", []):
        if Refund.objects.filter(stripe_refund_id=refund["id"]).exists():
            continue
        amount = min(
            from_stripe_amount(int(refund["amount"]), payment.currency),
            payment.amount - payment_refunded(payment=payment),
        )
        if amount <= 0:
            continue
        refund_record(
            payment=payment,
            amount=amount,
            at=at,
            stripe_refund_id=refund["id"],
            provider_amount=int(refund["amount"]),
        )
        new += 1
    return new
