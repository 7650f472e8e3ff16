"""Outgoing webhooks (docs/api.md, "Outgoing webhooks"): endpoints, the outbox written in the
announcing transaction, signed delivery (Standard Webhooks, through the `standardwebhooks`
package) with retries and exponential backoff, and resend."""

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django_q.tasks import async_task
from standardwebhooks.webhooks import Webhook

from notifications.models import (
    EVENT_TYPES,
    MessageStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)

DELIVER_TASK = "notifications.tasks.webhook_deliver_task"
# A worker holds a message this long while it posts it (a second worker skips it meanwhile).
CLAIM_SECONDS = 120
DUE_BATCH = 500


# --- endpoints -----------------------------------------------------------------------------


def webhook_secret_generate() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_endpoint_errors(*, url: str, event_types) -> dict[str, str]:
    errors = {}
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["url"] = "Give an absolute http:// or https:// URL."
    elif len(url) > 2000:
        errors["url"] = "The URL has at most 2,000 characters."
    if not isinstance(event_types, list) or not all(isinstance(t, str) for t in event_types):
        errors["event_types"] = "A list of event type names."
    else:
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            errors["event_types"] = (
                f"Unknown event type(s) {', '.join(unknown)}: "
                f"choose among {', '.join(EVENT_TYPES)}."
            )
    return errors


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, event_types: list[str] | None = None, description: str = "", is_active=True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret. No event types: it receives every type."""
    event_types = [] if event_types is None else event_types
    errors = webhook_endpoint_errors(url=url, event_types=event_types)
    if len(description) > 255:
        errors["description"] = "At most 255 characters."
    if errors:
        raise ValidationError(errors)
    return WebhookEndpoint.objects.create(
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        is_active=is_active,
        secret=webhook_secret_generate(),
    )


EDITABLE_FIELDS = ("url", "event_types", "description", "is_active")


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    errors = webhook_endpoint_errors(url=endpoint.url, event_types=endpoint.event_types)
    if errors:
        raise ValidationError(errors)
    endpoint.event_types = sorted(set(endpoint.event_types))
    endpoint.save()
    return endpoint


# --- the outbox ----------------------------------------------------------------------------


def webhook_endpoints_listening(*, event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints that listen to `event_type` (one query)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    return [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(is_active=True)
        if endpoint.listens_to(event_type)
    ]


def webhook_event_enqueue(
    *, event_type: str, data: dict | Callable[[], dict], at: datetime
) -> list[WebhookMessage]:
    """Write one outbox row per active endpoint listening to `event_type`, in the caller's
    transaction, and queue their delivery for when it commits (a rollback sends nothing).
    `data` may be a callable, called only when some endpoint listens (the cycle close
    finalizes many invoices; most installations listen to few types)."""
    endpoints = webhook_endpoints_listening(event_type=event_type)
    if not endpoints:
        return []
    if callable(data):
        data = data()
    body = json.dumps(
        {"type": event_type, "timestamp": at.isoformat(), "data": data},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    messages = [
        WebhookMessage.objects.create(
            msg_id=f"msg_{uuid.uuid4().hex}",
            endpoint=endpoint,
            event_type=event_type,
            body=body,
            next_attempt_at=at,
        )
        for endpoint in endpoints
    ]
    for message in messages:
        message_id = message.pk
        transaction.on_commit(lambda message_id=message_id: async_task(DELIVER_TASK, message_id))
    return messages


# --- delivery ------------------------------------------------------------------------------


def webhook_retry_delay(*, attempt: int) -> timedelta:
    """Exponential backoff after the `attempt`-th failure: base × 2^(attempt-1), capped."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX_SECONDS))


def webhook_signature_headers(*, secret: str, msg_id: str, body: str, at: datetime) -> dict:
    """The Standard Webhooks headers of one attempt (webhook-id, -timestamp, -signature)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body),
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery (the body would not follow it)."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: str, headers: dict) -> tuple[int | None, str, str]:
    """(status code or None, response body excerpt, error)."""
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            **headers,
            "Content-Type": "application/json",
            "User-Agent": "Tally-Webhooks/1",
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, response.read(1000).decode(errors="replace"), ""
    except urllib.error.HTTPError as error:
        return error.code, error.read(1000).decode(errors="replace"), ""
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, "", f"{type(error).__name__}: {reason}"[:500]


def webhook_message_deliver(*, message_id: int, at: datetime) -> WebhookDelivery | None:
    """Attempt one delivery of a due, pending message; None when it is not due (delivered,
    failed, waiting for its next attempt, or being sent by another worker).

    A 2xx answer delivers it; anything else schedules the next attempt with exponential
    backoff, until WEBHOOK_MAX_ATTEMPTS, when it is marked failed (resend tries again)."""
    claimed = WebhookMessage.objects.filter(
        pk=message_id, status=MessageStatus.PENDING, next_attempt_at__lte=at
    ).update(next_attempt_at=at + timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return None
    message = WebhookMessage.objects.select_related("endpoint").get(pk=message_id)
    headers = webhook_signature_headers(
        secret=message.endpoint.secret, msg_id=message.msg_id, body=message.body, at=at
    )
    started = time.monotonic()
    status_code, response_body, error = _post(message.endpoint.url, message.body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    attempt = message.attempts + 1
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            message=message,
            attempt=attempt,
            attempted_at=at,
            status_code=status_code,
            response_body=response_body,
            error=error,
            duration_ms=duration_ms,
        )
        message.attempts = attempt
        if delivery.succeeded:
            message.status = MessageStatus.DELIVERED
            message.delivered_at = at
            message.next_attempt_at = None
        elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
            message.status = MessageStatus.FAILED
            message.next_attempt_at = None
        else:
            message.next_attempt_at = at + webhook_retry_delay(attempt=attempt)
        message.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
    return delivery


def webhook_messages_deliver_due(*, at: datetime) -> list[WebhookDelivery]:
    """Attempt every pending message whose next attempt is due (the schedule's retries)."""
    due = WebhookMessage.objects.filter(
        status=MessageStatus.PENDING, next_attempt_at__lte=at
    ).order_by("next_attempt_at", "id")
    deliveries = []
    for message_id in list(due.values_list("pk", flat=True)[:DUE_BATCH]):
        delivery = webhook_message_deliver(message_id=message_id, at=at)
        if delivery is not None:
            deliveries.append(delivery)
    return deliveries


@transaction.atomic
def webhook_message_resend(*, message: WebhookMessage, at: datetime) -> WebhookMessage:
    """Send the message again now, with the same id and body (a delivered one too: the
        receiver dedupes by webhook-id). Retries continue while attempts < WEBHOOK_MAX_ATTEMPTS;
    a message that had exhausted them gets this one attempt."""
    message = WebhookMessage.objects.select_for_update().get(pk=message.pk)
    message.status = MessageStatus.PENDING
    message.next_attempt_at = at
    message.save(update_fields=["status", "next_attempt_at", "updated_at"])
    message_id = message.pk
    transaction.on_commit(lambda: async_task(DELIVER_TASK, message_id))
    return message
