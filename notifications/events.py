"""Which signal of a lower app becomes which webhook event and which customer email: one
line per signal in ROUTES (docs/operations.md, "Webhooks and emails: adding an event").

Receivers run inside the sender's transaction (Django signals are synchronous): the outbox
rows are written there, so a rolled-back change leaves none; delivery and emails are queued
on commit.

A failed payment's email is sent by the payments app itself (payments/emails.py, with the
dunning schedule and the hosted link), so its route announces the webhook only.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from catalog.currencies import format_money
from customers.signals import (
    subscription_canceled,
    subscription_created,
    subscription_updated,
    wallet_low_balance,
)
from invoices.signals import credit_note_issued, invoice_finalized, invoices_finalized_together
from metering.signals import entitlement_threshold_reached
from notifications.models import EmailKind
from payments import signals as payments_signals
from rating.money import decimal_string


@dataclass(frozen=True)
class Route:
    signal: Signal
    subject: str  # the keyword argument carrying the object: "invoice", "subscription", ...
    event_type: str | None  # the webhook event type sent, if any (notifications.models)
    email: str | None = None  # the customer email sent, if any (EmailKind)
    # The signal sent once for objects that went through `signal` together (with
    # together=True): the endpoints are looked up once for all of them.
    together: Signal | None = None


ROUTES: list[Route] = [
    # Its email is sent by invoices.documents with the PDF, rendered from our template.
    Route(invoice_finalized, "invoice", "invoice.finalized", together=invoices_finalized_together),
    Route(
        subscription_created,
        "subscription",
        "subscription.created",
        email=EmailKind.SUBSCRIPTION_CREATED,
    ),
    Route(subscription_updated, "subscription", "subscription.updated"),
    Route(
        subscription_canceled,
        "subscription",
        "subscription.canceled",
        email=EmailKind.SUBSCRIPTION_CANCELED,
    ),
    Route(payments_signals.invoice_paid, "invoice", "invoice.paid"),
    Route(credit_note_issued, "credit_note", "credit_note.created"),
    Route(payments_signals.payment_failed, "payment", "invoice.payment_failed"),
    Route(payments_signals.payment_succeeded, "payment", None, email=EmailKind.PAYMENT_SUCCEEDED),
    # Once per crossing: the transaction that took the balance below the threshold.
    Route(
        wallet_low_balance,
        "transaction",
        "wallet.low_balance",
        email=EmailKind.WALLET_LOW_BALANCE,
    ),
    # A grant's usage alert (80 %, 100 % of a limit), once per period.
    Route(
        entitlement_threshold_reached,
        "alert",
        "entitlement.threshold_reached",
        email=EmailKind.QUOTA_WARNING,
    ),
]


# --- payloads: the `data` of a webhook event ---------------------------------------------


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def invoice_data(invoice) -> dict:
    """The invoice's summary (the full invoice is GET /api/v1/invoices/{id})."""
    fields = ("id", "number", "status", "kind", "currency", "period_start", "period_end")
    dates = ("issued_at", "due_date")
    amounts = ("subtotal", "discount", "tax", "total", "credits_applied", "amount_due")
    data = {name: _plain(getattr(invoice, name)) for name in (*fields, *dates)}
    # Money as the API writes it: a decimal string with the currency's minor unit.
    data.update({name: format_money(getattr(invoice, name), invoice.currency) for name in amounts})
    data["customer"] = invoice.customer.external_id
    data["subscription"] = invoice.subscription_id
    return data


def subscription_data(subscription) -> dict:
    """The subscription as GET /api/v1/subscriptions/{id} shows its main fields."""
    fields = (
        "id",
        "status",
        "anchor",
        "started_at",
        "trial_ends_at",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "cancel_at",
        "canceled_at",
        "ended_at",
    )
    data = {name: _plain(getattr(subscription, name)) for name in fields}
    data["customer"] = subscription.customer.external_id
    data["plan"] = subscription.plan.code
    data["plan_version"] = subscription.plan.version
    return data


def model_data(obj: models.Model) -> dict:
    """Any model's own fields (foreign keys as ids): for subjects without a dedicated shape."""
    return {
        field.attname: _plain(getattr(obj, field.attname)) for field in obj._meta.concrete_fields
    }


def payment_data(payment) -> dict:
    """A payment attempt and the invoice it pays (money as the API writes it)."""
    fields = ("id", "gateway", "status", "currency", "method", "reference", "attempt")
    data = {name: _plain(getattr(payment, name)) for name in fields}
    data["amount"] = format_money(payment.amount, payment.currency)
    data["failure_code"] = payment.failure_code
    data["failure_message"] = payment.failure_message
    data["settled_at"] = _plain(payment.settled_at)
    data["invoice"] = invoice_data(payment.invoice)
    return data


def wallet_transaction_data(transaction_) -> dict:
    """The wallet after a transaction: customer, currency, balance, threshold (API's money)."""
    from customers.selectors import wallet_balance_at

    wallet = transaction_.wallet
    threshold = wallet.low_balance_threshold
    return {
        "customer": wallet.customer.external_id,
        "currency": wallet.currency,
        "balance": format_money(wallet_balance_at(transaction=transaction_), wallet.currency),
        "low_balance_threshold": None
        if threshold is None
        else format_money(threshold, wallet.currency),
        "transaction": {
            "id": transaction_.pk,
            "kind": transaction_.kind,
            "amount": format_money(transaction_.amount, wallet.currency),
            "created_at": _plain(transaction_.created_at),
        },
    }


def entitlement_alert_data(alert) -> dict:
    """A usage alert: which feature, how much of its limit, in which period."""
    return {
        "customer": alert.customer.external_id,
        "subscription": alert.subscription_id,
        "feature": alert.feature.code,
        "threshold": alert.threshold,
        "limit": decimal_string(alert.limit),
        "usage": decimal_string(alert.usage),
        "period_start": _plain(alert.period_start),
        "period_end": _plain(alert.period_end),
    }


def credit_note_data(note) -> dict:
    """The credit note's summary (the whole note is GET /api/v1/credit-notes/{id})."""
    fields = ("id", "number", "status", "currency", "reason", "outcome", "issued_at")
    amounts = ("subtotal", "tax", "total", "applied_to_invoice", "outcome_amount")
    data = {name: _plain(getattr(note, name)) for name in fields}
    data.update({name: format_money(getattr(note, name), note.currency) for name in amounts})
    data["customer"] = note.customer.external_id
    data["invoice"] = note.invoice_id
    data["invoice_number"] = note.invoice.number
    return data


DATA: dict[str, Callable[[models.Model], dict]] = {
    "invoice": invoice_data,
    "subscription": subscription_data,
    "payment": payment_data,
    "transaction": wallet_transaction_data,
    "alert": entitlement_alert_data,
    "credit_note": credit_note_data,
}


def event_data(subject: str, obj: models.Model) -> dict:
    return DATA.get(subject, model_data)(obj)


# --- wiring ------------------------------------------------------------------------------


def _receiver(route: Route):
    def receive(sender, **kwargs):
        if route.together is not None and kwargs.get("together"):
            return  # handled for all of them by receive_together
        _send(route, kwargs[route.subject], kwargs.get("at") or timezone.now())

    return receive


def _receiver_together(route: Route):
    def receive_together(sender, **kwargs):
        from notifications.services.webhooks import webhook_endpoints_listening

        objs = kwargs[f"{route.subject}s"]
        listening = route.event_type is not None and webhook_endpoints_listening(
            event_type=route.event_type
        )
        if not listening and route.email is None:
            return
        at = kwargs.get("at") or timezone.now()
        for obj in objs:
            _send(route, obj, at)

    return receive_together


def _send(route: Route, obj: models.Model, at) -> None:
    from notifications.services.emails import customer_email_enqueue
    from notifications.services.webhooks import webhook_event_enqueue

    if route.event_type is not None:
        webhook_event_enqueue(
            event_type=route.event_type, data=lambda: event_data(route.subject, obj), at=at
        )
    if route.email is not None:
        customer_email_enqueue(kind=route.email, obj=obj)


def routes_connect() -> None:
    """Connect every route (NotificationsConfig.ready)."""
    for route in ROUTES:
        route.signal.connect(
            _receiver(route),
            weak=False,
            dispatch_uid=f"notifications:{route.event_type}:{route.email}:{id(route.signal)}",
        )
        if route.together is not None:
            route.together.connect(
                _receiver_together(route),
                weak=False,
                dispatch_uid=f"notifications:{route.event_type}:{route.email}:together",
            )
