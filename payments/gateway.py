"""The Stripe gateway through the real `stripe` SDK: a client built from the settings, the lazy
Stripe customer, off-session PaymentIntents, refunds and Checkout sessions.

The gateway is off while STRIPE_SECRET_KEY is empty (docs/operations.md): manual payments
still work. Every call that moves money carries an idempotency key derived from our ids.
"""

from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from billing.errors import AppError, ErrorKind
from customers.models import Customer
from payments.models import StripeCustomer
from payments.stripe_units import to_stripe_amount


class GatewayDisabled(AppError):
    """The Stripe gateway is off (no STRIPE_SECRET_KEY): a conflict with the setup (409)."""

    def __init__(self, message):
        super().__init__(message, kind=ErrorKind.CONFLICT)


class GatewayError(Exception):
    """Stripe refused or could not be reached; the message says why."""


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    if not stripe_enabled():
        raise GatewayDisabled("The Stripe gateway is off: set STRIPE_SECRET_KEY to turn it on.")
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    # Retries are ours (dunning), and a payment call must not hang a worker.
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=2
    )


def stripe_customer_ensure(*, customer: Customer) -> StripeCustomer:
    """The customer's Stripe customer, created on first use (once, whatever the concurrency:
    the key `customer:<id>` makes Stripe answer a repeated creation with the same customer)."""
    existing = StripeCustomer.objects.filter(customer=customer).first()
    if existing:
        return existing
    created = stripe_client().v1.customers.create(
        params={
            "name": customer.name,
            "email": customer.email or None,
            "metadata": {
                "tally_customer_id": str(customer.pk),
                "external_id": customer.external_id,
            },
        },
        options={"idempotency_key": f"customer:{customer.pk}"},
    )
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(customer=customer, stripe_customer_id=created.id)
    except IntegrityError:
        return StripeCustomer.objects.get(customer=customer)


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    status: str  # "succeeded", "pending" or "failed"
    payment_intent_id: str | None
    charge_id: str
    failure_code: str = ""
    failure_message: str = ""


def _charge_id(latest_charge) -> str:
    if latest_charge is None:
        return ""
    return latest_charge if isinstance(latest_charge, str) else latest_charge.get("id", "")


def stripe_charge_off_session(
    *,
    stripe_customer: StripeCustomer,
    amount: Decimal,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, str],
) -> ChargeOutcome:
    """Charge the customer's saved payment method now, without them (a PaymentIntent confirmed
    off-session). A decline is an outcome, not an error; GatewayError when Stripe is out of
    reach or refuses the request itself."""
    try:
        intent = stripe_client().v1.payment_intents.create(
            params={
                "amount": to_stripe_amount(amount, currency),
                "currency": currency.lower(),
                "customer": stripe_customer.stripe_customer_id,
                "payment_method": stripe_customer.default_payment_method_id,
                "confirm": True,
                "off_session": True,
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.CardError as error:
        intent = getattr(error.error, "payment_intent", None) if error.error else None
        return ChargeOutcome(
            "failed",
            getattr(intent, "id", None),
            "",
            error.code or "card_declined",
            (error.user_message or str(error))[:500],
        )
    except stripe.StripeError as error:
        raise GatewayError(error.user_message or str(error)) from error
    return outcome_of(intent.to_dict())


def outcome_of(intent: dict) -> ChargeOutcome:
    """What a PaymentIntent (as a dict) says of the attempt: succeeded, failed or pending."""
    status = {"succeeded": "succeeded", "requires_payment_method": "failed"}.get(
        intent["status"], "pending"
    )
    failure = intent.get("last_payment_error") or {}
    return ChargeOutcome(
        status,
        intent["id"],
        _charge_id(intent.get("latest_charge")),
        failure.get("code", "") if status == "failed" else "",
        (failure.get("message", "") if status == "failed" else "")[:500],
    )


def stripe_refund(*, payment_intent_id: str, provider_amount: int, idempotency_key: str):
    """Refund `provider_amount` (Stripe units) of a PaymentIntent; returns Stripe's Refund."""
    try:
        return stripe_client().v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": provider_amount},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise GatewayError(error.user_message or str(error)) from error


def stripe_payment_intent(*, payment_intent_id: str) -> dict:
    return stripe_client().v1.payment_intents.retrieve(payment_intent_id).to_dict()


def stripe_setup_intent(*, setup_intent_id: str) -> dict:
    return stripe_client().v1.setup_intents.retrieve(setup_intent_id).to_dict()


def stripe_checkout_session(*, params: dict):
    """A Checkout session (Stripe's hosted page); its `url` is where the customer goes. It
    moves no money by itself: the payment it leads to is settled by its webhook."""
    try:
        return stripe_client().v1.checkout.sessions.create(params=params)
    except stripe.StripeError as error:
        raise GatewayError(error.user_message or str(error)) from error
