"""The payment ledger (payments and refunds, appended, never overwritten in amount), the Stripe
customer of each Tally customer, and every Stripe webhook delivery as received.

What an invoice has been paid is a sum over this ledger (payments.selectors), never a stored
figure: see docs/architecture.md.
"""

from django.db import models
from django.db.models import Q

from billing.models import TimestampedModel
from catalog.models import AMOUNT
from invoices.models import Invoice


class Gateway(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


# Statuses whose amount (less its refunds) counts towards the invoice.
COLLECTED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CHEQUE = "cheque", "Cheque"
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    OTHER = "other", "Other"


class Payment(TimestampedModel):
    """One payment attempt or receipt on one invoice. `amount` is what it settles on the invoice
    (in the invoice's currency, at its ISO minor unit); `provider_amount` is the integer Stripe
    was asked for, in Stripe's minor units (payments/stripe_units.py)."""

    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="+")
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    # Stripe attempts: the n-th automatic attempt on the invoice, and its idempotency key.
    attempt = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True, null=True, blank=True)
    provider_amount = models.BigIntegerField(null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True)
    stripe_checkout_session_id = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    # Manual payments: how it was paid and the bank's or cheque's reference.
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, default="card")
    reference = models.CharField(max_length=200, blank=True)
    settled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it succeeded or failed (a manual one: paid on)."
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(name="payment_amount_gt_0", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["invoice", "attempt"],
                condition=Q(attempt__isnull=False),
                name="payment_one_per_invoice_attempt",
            ),
        ]
        indexes = [
            models.Index(fields=["invoice", "status"], name="payment_invoice_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} ({self.gateway}, {self.status})"


class Refund(TimestampedModel):
    """Money given back on a payment, in full or in part."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**AMOUNT)
    provider_amount = models.BigIntegerField(null=True, blank=True)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    refunded_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(name="refund_amount_gt_0", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of payment #{self.payment_id}"


class StripeCustomer(TimestampedModel):
    """The Stripe customer of a Tally customer (created lazily) and its saved payment method."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="+"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    default_payment_method_id = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.stripe_customer_id


class WebhookDelivery(models.Model):
    """One POST to /webhooks/stripe/ exactly as received, stored before anything else."""

    received_at = models.DateTimeField()
    body = models.TextField()
    headers = models.JSONField(default=dict)
    valid = models.BooleanField(default=False, help_text="The Stripe signature checked out.")
    event_id = models.CharField(max_length=255, blank=True, db_index=True)
    event_type = models.CharField(max_length=100, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type or 'delivery'} {self.event_id or self.pk}"


class OverdueInvoice(Invoice):
    """The admin's "Overdue" list: issued invoices past their due date and not paid."""

    class Meta:
        proxy = True
        verbose_name = "overdue invoice"
        verbose_name_plural = "overdue invoices"
