"""Stripe webhooks, as dj-stripe takes them: every delivery is stored first (raw body, headers,
when), then its signature is checked with STRIPE_WEBHOOK_SECRET, then it is processed inside
an inner transaction. An event already processed (a replay) changes nothing; handlers only
move a payment forward, so out-of-order deliveries change nothing twice either."""

import json
import logging
from datetime import datetime
from decimal import Decimal

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django_q.tasks import async_task

from invoices.models import Invoice
from payments.gateway import stripe_setup_intent
from payments.models import Gateway, Payment, PaymentMethod, PaymentStatus, StripeCustomer
from payments.models import WebhookDelivery as Delivery
from payments.services.ledger import payment_mark_failed, payment_mark_succeeded
from payments.services.refunds import refunds_from_stripe_charge

logger = logging.getLogger(__name__)

# Headers worth keeping with a delivery (never cookies or auth).
KEPT_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent", "Content-Length")
MAX_BODY = 1_000_000  # bytes: Stripe's events are far smaller


class WebhookRefused(Exception):
    """The delivery is not a genuine Stripe event for us (answered 400, kept for inspection)."""


def webhook_store(*, body: bytes, headers: dict[str, str], at: datetime) -> Delivery:
    """Keep the delivery exactly as received, before anything else can go wrong."""
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    return Delivery.objects.create(
        received_at=at, body=body.decode("utf-8", errors="replace"), headers=kept
    )


def webhook_process(*, delivery: Delivery, at: datetime) -> str:
    """Verify the stored delivery and apply its event once; returns what was done. Raises
    WebhookRefused for a bad signature or body (the delivery stays, marked invalid)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    signature = delivery.headers.get("Stripe-Signature", "")
    try:
        if not secret:
            raise WebhookRefused("STRIPE_WEBHOOK_SECRET is not set: no delivery can be verified.")
        if len(delivery.body) > MAX_BODY:
            raise WebhookRefused("The body is too large for a Stripe event.")
        try:
            stripe.WebhookSignature.verify_header(delivery.body, signature, secret, 300)
        except stripe.SignatureVerificationError as error:
            raise WebhookRefused(f"Bad signature: {error.user_message or error}") from None
        try:
            event = json.loads(delivery.body)
            event_id, event_type = str(event["id"]), str(event["type"])
            obj = event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            raise WebhookRefused("The body is not a Stripe event.") from None
    except WebhookRefused as refusal:
        Delivery.objects.filter(pk=delivery.pk).update(valid=False, outcome=str(refusal)[:500])
        raise
    Delivery.objects.filter(pk=delivery.pk).update(
        valid=True, event_id=event_id[:255], event_type=event_type[:100]
    )
    with transaction.atomic():
        # Deliveries of one event queue up on the first one's row; a replay finds it processed.
        first = (
            Delivery.objects.select_for_update()
            .filter(event_id=event_id, valid=True)
            .order_by("pk")
            .first()
        )
        if Delivery.objects.filter(event_id=event_id, processed_at__isnull=False).exists():
            outcome = f"replay of an event processed already (delivery {first.pk})"
        else:
            handler = HANDLERS.get(event_type)
            outcome = handler(obj, at) if handler else f"ignored: {event_type} is not used"
        Delivery.objects.filter(pk=delivery.pk).update(processed_at=at, outcome=outcome[:500])
    return outcome


def webhook_process_failed(*, delivery: Delivery, error: Exception) -> None:
    """Say on the stored delivery why it could not be processed (Stripe sends it again)."""
    Delivery.objects.filter(pk=delivery.pk).update(
        outcome=f"not processed: {type(error).__name__}: {error}"[:500]
    )


# --- Handlers: each takes the event's object and `at`, and says what it did --------------------


def _payment_for_intent(intent: dict) -> Payment | None:
    metadata = intent.get("metadata") or {}
    by_id = Payment.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if by_id:
        return by_id
    payment_id = metadata.get("tally_payment_id", "")
    if payment_id.isdigit():
        payment = Payment.objects.filter(pk=int(payment_id), gateway=Gateway.STRIPE).first()
        if payment:
            Payment.objects.filter(pk=payment.pk, stripe_payment_intent_id__isnull=True).update(
                stripe_payment_intent_id=intent["id"]
            )
            return payment
    return None


def _payment_from_checkout(
    *, intent_id: str, metadata: dict, session_id: str = ""
) -> Payment | None:
    """The ledger row of a "Pay now" payment (Checkout in payment mode), created once whichever
    of its two events (payment_intent.succeeded, checkout.session.completed) comes first."""
    invoice_id, amount = metadata.get("tally_invoice_id", ""), metadata.get("tally_amount", "")
    if not invoice_id.isdigit() or not amount:
        return None
    invoice = Invoice.objects.filter(pk=int(invoice_id)).first()
    if invoice is None:
        return None
    try:
        with transaction.atomic():
            return Payment.objects.create(
                invoice=invoice,
                gateway=Gateway.STRIPE,
                amount=Decimal(amount),
                currency=invoice.currency,
                status=PaymentStatus.PENDING,
                method=PaymentMethod.CARD,
                stripe_payment_intent_id=intent_id,
                stripe_checkout_session_id=session_id,
            )
    except IntegrityError:
        return Payment.objects.get(stripe_payment_intent_id=intent_id)


def _charge_id(intent: dict) -> str:
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        return charge.get("id", "")
    return charge or ""


def on_payment_intent_succeeded(intent: dict, at: datetime) -> str:
    payment = _payment_for_intent(intent) or _payment_from_checkout(
        intent_id=intent["id"], metadata=intent.get("metadata") or {}
    )
    if payment is None:
        return f"ignored: PaymentIntent {intent['id']} is not one of ours"
    before = payment.status
    if payment.provider_amount is None and intent.get("amount"):
        Payment.objects.filter(pk=payment.pk).update(provider_amount=int(intent["amount"]))
    payment = payment_mark_succeeded(payment_id=payment.pk, at=at, charge_id=_charge_id(intent))
    _keep_payment_method(intent)
    return f"payment {payment.pk}: {before} → {payment.status}"


def _keep_payment_method(intent: dict) -> None:
    """A customer who paid through Checkout without a saved method gets that card saved for
    the next invoices (Checkout's payment was made with setup_future_usage=off_session)."""
    method = intent.get("payment_method")
    method = method.get("id") if isinstance(method, dict) else method
    if method and intent.get("customer"):
        StripeCustomer.objects.filter(
            stripe_customer_id=intent["customer"], default_payment_method_id=""
        ).update(default_payment_method_id=method)


def on_payment_intent_failed(intent: dict, at: datetime) -> str:
    payment = _payment_for_intent(intent)
    if payment is None:
        return f"ignored: PaymentIntent {intent['id']} is not one of our attempts"
    error = intent.get("last_payment_error") or {}
    before = payment.status
    payment = payment_mark_failed(
        payment_id=payment.pk,
        at=at,
        failure_code=error.get("code") or "payment_failed",
        failure_message=error.get("message") or "",
    )
    return f"payment {payment.pk}: {before} → {payment.status}"


def on_checkout_completed(session: dict, at: datetime) -> str:
    metadata = session.get("metadata") or {}
    if session.get("mode") == "setup":
        return _save_payment_method(session, metadata)
    if session.get("mode") == "payment" and session.get("payment_status") == "paid":
        intent_id = session.get("payment_intent")
        payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first()
        payment = payment or _payment_from_checkout(
            intent_id=intent_id, metadata=metadata, session_id=session.get("id", "")
        )
        if payment is None:
            return f"ignored: Checkout session {session.get('id')} is not one of ours"
        before = payment.status
        payment = payment_mark_succeeded(payment_id=payment.pk, at=at)
        return f"payment {payment.pk}: {before} → {payment.status}"
    return f"ignored: Checkout session in mode {session.get('mode')}"


def _save_payment_method(session: dict, metadata: dict) -> str:
    saved = StripeCustomer.objects.filter(stripe_customer_id=session.get("customer")).first()
    if saved is None:
        return f"ignored: Stripe customer {session.get('customer')} is not one of ours"
    method = stripe_setup_intent(setup_intent_id=session["setup_intent"])["payment_method"]
    method = method if isinstance(method, str) else method["id"]
    if saved.default_payment_method_id == method:
        return f"payment method {method} already saved"
    StripeCustomer.objects.filter(pk=saved.pk).update(default_payment_method_id=method)
    invoice_id = metadata.get("tally_invoice_id", "")
    if invoice_id.isdigit():
        # Saved from an unpaid invoice's page: charge it now.
        transaction.on_commit(
            lambda: async_task("payments.tasks.attempt_payment_task", int(invoice_id))
        )
    return f"payment method {method} saved for {saved.customer_id}"


def on_charge_refunded(charge: dict, at: datetime) -> str:
    payment = Payment.objects.filter(stripe_payment_intent_id=charge.get("payment_intent")).first()
    if payment is None:
        return f"ignored: charge {charge.get('id')} is not one of ours"
    new = refunds_from_stripe_charge(payment=payment, charge=charge, at=at)
    return f"payment {payment.pk}: {new} new refund(s)"


HANDLERS = {
    "payment_intent.succeeded": on_payment_intent_succeeded,
    "payment_intent.payment_failed": on_payment_intent_failed,
    "checkout.session.completed": on_checkout_completed,
    "charge.refunded": on_charge_refunded,
}
