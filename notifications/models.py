"""Outgoing webhooks (endpoints, the outbox of messages, the ledger of delivery attempts) and
the customer email templates an operator edits (docs/operations.md, "Webhooks", "Emails")."""

from django.db import models
from django.db.models import Q

from billing.models import TimestampedModel

# Every webhook event type Tally sends or will send (docs/api.md, "Outgoing webhooks").
EVENT_TYPES = (
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "wallet.low_balance",
    "entitlement.threshold_reached",
    "credit_note.created",
)


class WebhookEndpoint(TimestampedModel):
    """A URL of the integrator's that receives the event types it listens to, signed with its
    own secret (Standard Webhooks). No event types listed: every type."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=255, blank=True)
    secret = models.CharField(max_length=100, help_text="whsec_…: verifies our signatures.")
    event_types = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def listens_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (retries exhausted)"


class WebhookMessage(TimestampedModel):
    """The outbox: one event for one endpoint, written in the transaction of the change it
    announces. `body` is the exact JSON sent (and signed) on every attempt."""

    msg_id = models.CharField(max_length=40, unique=True, help_text="The webhook-id header.")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="messages")
    event_type = models.CharField(max_length=64)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="webhook_message_status_valid",
                condition=Q(status__in=MessageStatus.values),
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_message_due_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint} ({self.msg_id})"


class WebhookDelivery(models.Model):
    """One attempt to deliver a message: appended, never changed (the delivery log)."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.CharField(max_length=1000, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"#{self.attempt} {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class EmailKind(models.TextChoices):
    INVOICE_FINALIZED = "invoice_finalized", "Invoice finalized"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    PAYMENT_SUCCEEDED = "payment_succeeded", "Payment succeeded"
    QUOTA_WARNING = "quota_warning", "Quota warning"
    TRIAL_ENDING = "trial_ending", "Trial ending"
    SUBSCRIPTION_CREATED = "subscription_created", "Subscription created"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"
    WALLET_LOW_BALANCE = "wallet_low_balance", "Wallet balance low"


class EmailTemplate(TimestampedModel):
    """The email a customer gets for one kind of event: on or off, subject and text as Django
    templates. The HTML version wraps the text in the company's layout (name and logo)."""

    kind = models.CharField(max_length=32, choices=EmailKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Plain text with {{ variables }}; see the list below.")

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(
                name="email_template_kind_valid", condition=Q(kind__in=EmailKind.values)
            )
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class SentEmail(models.Model):
    """Each customer email sent once per (kind, object): the claim that keeps a retried task
    from sending twice, and the operator's record of what went out."""

    kind = models.CharField(max_length=32, choices=EmailKind.choices)
    object_key = models.CharField(max_length=100, help_text="app.model:pk the email is about.")
    recipient = models.EmailField()
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_key"], name="sent_email_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient}"
