"""django-q2 entry points of the notifications app: thin wrappers over its services."""

from django.utils import timezone

from notifications.services.emails import customer_email_send, trial_ending_reminders_send
from notifications.services.webhooks import webhook_message_deliver, webhook_messages_deliver_due


def webhook_deliver_task(message_id: int) -> str:
    delivery = webhook_message_deliver(message_id=message_id, at=timezone.now())
    if delivery is None:
        return f"message {message_id}: not due"
    outcome = delivery.status_code or delivery.error
    return f"message {message_id}: attempt {delivery.attempt} → {outcome}"


def webhooks_deliver_due_task() -> str:
    deliveries = webhook_messages_deliver_due(at=timezone.now())
    delivered = sum(1 for delivery in deliveries if delivery.succeeded)
    return f"{len(deliveries)} attempt(s), {delivered} delivered"


def customer_email_task(kind: str, object_label: str, object_pk: int) -> str:
    sent = customer_email_send(
        kind=kind, object_label=object_label, object_pk=object_pk, at=timezone.now()
    )
    return f"{kind} {object_label}:{object_pk}: {'sent' if sent else 'not sent'}"


def trial_ending_reminders_task() -> str:
    return f"{trial_ending_reminders_send(at=timezone.now())} trial-ending email(s) sent"
