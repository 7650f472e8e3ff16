"""Automatic payment attempts through Stripe: an off-session PaymentIntent on the customer's
saved payment method for what is still owed, one numbered attempt at a time.

Attempt n of invoice i carries the idempotency key `invoice:<i>:attempt:<n>`. The attempt's
row is committed before Stripe is called, so a crash or a lost answer leaves it pending
without a PaymentIntent, and the next run sends the same attempt again with the same key:
Stripe answers it without charging twice.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction

from billing.errors import AppError, ErrorKind
from invoices.models import Invoice, InvoiceStatus
from payments.gateway import (
    GatewayDisabled,
    outcome_of,
    stripe_charge_off_session,
    stripe_customer_ensure,
    stripe_enabled,
    stripe_payment_intent,
)
from payments.models import Gateway, Payment, PaymentMethod, PaymentStatus, StripeCustomer
from payments.selectors import OPEN, invoice_amount_remaining, invoices_due_for_retry
from payments.services.ledger import (
    PaymentStateError,
    locked_invoice,
    payment_mark_failed,
    payment_mark_succeeded,
)
from payments.stripe_units import to_stripe_amount

logger = logging.getLogger(__name__)

# A pending attempt with no PaymentIntent after this long lost its answer: send it again.
UNANSWERED_AFTER = timedelta(minutes=10)


class NoPaymentMethod(AppError):
    """The customer has no saved payment method: they pay from the hosted invoice page (409)."""

    def __init__(self, message):
        super().__init__(message, kind=ErrorKind.CONFLICT)


def attempt_key(*, invoice_id: int, attempt: int) -> str:
    return f"invoice:{invoice_id}:attempt:{attempt}"


def _attempt_row(*, invoice: Invoice, at: datetime) -> Payment | None:
    """Under the invoice's lock: the attempt to send — an unanswered pending one again, else a
    new one numbered after the last. None when nothing is owed or an attempt awaits Stripe."""
    pending = (
        Payment.objects.filter(
            invoice=invoice, gateway=Gateway.STRIPE, status=PaymentStatus.PENDING
        )
        .order_by("-id")
        .first()
    )
    if pending is not None:
        return pending if pending.stripe_payment_intent_id is None and pending.attempt else None
    remaining = invoice_amount_remaining(invoice=invoice)
    if remaining <= 0:
        return None
    last = (
        Payment.objects.filter(invoice=invoice, attempt__isnull=False)
        .order_by("-attempt")
        .values_list("attempt", flat=True)
        .first()
    )
    number = (last or 0) + 1
    return Payment.objects.create(
        invoice=invoice,
        gateway=Gateway.STRIPE,
        amount=remaining,
        currency=invoice.currency,
        status=PaymentStatus.PENDING,
        method=PaymentMethod.CARD,
        attempt=number,
        idempotency_key=attempt_key(invoice_id=invoice.pk, attempt=number),
        provider_amount=to_stripe_amount(remaining, invoice.currency),
    )


def invoice_attempt_payment(*, invoice: Invoice, at: datetime) -> Payment | None:
    """Charge the customer's saved payment method for what is still owed on the invoice.

    Returns the attempt (succeeded, failed or pending), or None when nothing is owed or an
    earlier attempt still awaits Stripe's answer. Raises GatewayDisabled without Stripe keys,
    NoPaymentMethod when the customer saved none, PaymentStateError for an invoice that is
    not open, GatewayError when Stripe cannot be reached (the attempt stays pending and is
    sent again, with its key, by the next retry run)."""
    if not stripe_enabled():
        raise GatewayDisabled("The Stripe gateway is off: set STRIPE_SECRET_KEY to turn it on.")
    saved = StripeCustomer.objects.filter(customer_id=invoice.customer_id).first()
    if saved is None or not saved.default_payment_method_id:
        raise NoPaymentMethod(
            f"{invoice.customer.name} has no saved payment method: they can pay from the "
            "invoice's hosted page."
        )
    with transaction.atomic():
        invoice = locked_invoice(invoice.pk)
        if invoice.status not in OPEN:
            raise PaymentStateError(
                f"Invoice {invoice} is {invoice.status}: only a finalized or uncollectible "
                "invoice can be charged."
            )
        payment = _attempt_row(invoice=invoice, at=at)
    if payment is None:
        return None
    stripe_customer = stripe_customer_ensure(customer=invoice.customer)
    outcome = stripe_charge_off_session(
        stripe_customer=stripe_customer,
        amount=payment.amount,
        currency=payment.currency,
        idempotency_key=payment.idempotency_key,
        metadata={
            "tally_payment_id": str(payment.pk),
            "tally_invoice_id": str(invoice.pk),
            "invoice_number": invoice.number or "",
        },
    )
    return payment_apply_outcome(payment=payment, outcome=outcome, at=at)


def payment_apply_outcome(*, payment: Payment, outcome, at: datetime) -> Payment:
    if outcome.payment_intent_id:
        Payment.objects.filter(pk=payment.pk, stripe_payment_intent_id__isnull=True).update(
            stripe_payment_intent_id=outcome.payment_intent_id
        )
    if outcome.status == "succeeded":
        return payment_mark_succeeded(payment_id=payment.pk, at=at, charge_id=outcome.charge_id)
    if outcome.status == "failed":
        return payment_mark_failed(
            payment_id=payment.pk,
            at=at,
            failure_code=outcome.failure_code,
            failure_message=outcome.failure_message,
        )
    payment.refresh_from_db()
    return payment


def payments_retry_due(*, at: datetime) -> list[Payment]:
    """The dunning run: send again every attempt that lost Stripe's answer, then retry every
    invoice whose next retry (PAYMENT_RETRY_DAYS) is due at `at`. One failure is logged and
    does not stop the others."""
    if not stripe_enabled():
        return []
    attempts = _reconcile_unsettled(at=at)
    invoice_ids = list(
        Payment.objects.filter(
            gateway=Gateway.STRIPE,
            status=PaymentStatus.PENDING,
            stripe_payment_intent_id__isnull=True,
            attempt__isnull=False,
            created_at__lte=at - UNANSWERED_AFTER,
            invoice__status=InvoiceStatus.FINALIZED,
        ).values_list("invoice_id", flat=True)
    )
    invoice_ids += [invoice.pk for invoice in invoices_due_for_retry(at=at)]
    for invoice in Invoice.objects.filter(pk__in=invoice_ids).select_related("customer"):
        try:
            payment = invoice_attempt_payment(invoice=invoice, at=at)
        except Exception:  # one customer's trouble must not stop the others' retries
            logger.exception("Payment retry of invoice %s failed", invoice)
            continue
        if payment is not None:
            attempts.append(payment)
    return attempts


def _reconcile_unsettled(*, at: datetime) -> list[Payment]:
    """Attempts Stripe took (a PaymentIntent) whose outcome never arrived (a lost webhook):
    ask Stripe for the PaymentIntent and settle them as its webhook would have."""
    settled = []
    unsettled = Payment.objects.filter(
        gateway=Gateway.STRIPE,
        status=PaymentStatus.PENDING,
        stripe_payment_intent_id__isnull=False,
        created_at__lte=at - UNANSWERED_AFTER,
    )
    for payment in unsettled.order_by("pk"):
        try:
            intent = stripe_payment_intent(payment_intent_id=payment.stripe_payment_intent_id)
            outcome = outcome_of(intent)
            if outcome.status != "pending":
                settled.append(payment_apply_outcome(payment=payment, outcome=outcome, at=at))
        except Exception:  # one lost answer must not stop the others
            logger.exception("Could not reconcile payment %s with Stripe", payment.pk)
    return settled
