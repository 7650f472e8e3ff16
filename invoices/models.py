"""Invoices and their lines, and the per-year sequence that numbers them gaplessly."""

from django.db import models
from django.db.models import Q

from billing.models import TimestampedModel
from catalog.models import AMOUNT, QUANTITY, UNIT_PRICE


class InvoiceKind(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription"
    ON_DEMAND = "on_demand", "On-demand usage"
    ONE_OFF = "one_off", "One-off"
    # Used by the wallets (paid top-ups) and finance (credit notes) work that builds on this.
    CREDIT_PURCHASE = "credit_purchase", "Credit purchase"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINALIZED = "finalized", "Finalized"
    PAID = "paid", "Paid"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


class Invoice(TimestampedModel):
    """One bill to one customer. Draft until finalized; a finalized invoice never changes."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    subscription = models.ForeignKey(
        "customers.Subscription",
        on_delete=models.PROTECT,
        related_name="invoices",
        null=True,
        blank=True,
    )
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices)
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    subtotal = models.DecimalField(**AMOUNT, default=0)
    discount = models.DecimalField(**AMOUNT, default=0)
    tax = models.DecimalField(**AMOUNT, default=0)
    total = models.DecimalField(**AMOUNT, default=0)
    credits_applied = models.DecimalField(**AMOUNT, default=0)
    amount_due = models.DecimalField(**AMOUNT, default=0)
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    # A draft waits for late events until grace_until, then the closer finalizes it.
    grace_until = models.DateTimeField(null=True, blank=True)
    usage_read_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the usage lines were last read (the close's at): a draft is refreshed "
        "when events arrive after it.",
    )
    issued_at = models.DateTimeField(null=True, blank=True, help_text="When it was finalized.")
    due_date = models.DateField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="credit_notes",
        null=True,
        blank=True,
        help_text="For a credit note: the invoice it corrects.",
    )
    verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When verify_invoices last recomputed its usage lines from the raw events "
        "and the ledger and found them equal.",
    )
    verification_drift = models.JSONField(
        default=list,
        blank=True,
        help_text="What verify_invoices found different (line, expected, stored, window); "
        "empty when it matched.",
    )
    pdf_file = models.FileField(upload_to="invoices/pdf/%Y/", blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end", "kind"],
                name="invoice_once_per_subscription_period_kind",
            ),
            models.CheckConstraint(
                name="invoice_numbered_unless_draft_or_void",
                condition=Q(status__in=["draft", "void"]) | Q(number__isnull=False),
            ),
            models.CheckConstraint(
                name="invoice_amounts_gte_0",
                condition=Q(discount__gte=0)
                & Q(tax__gte=0)
                & Q(credits_applied__gte=0)
                & Q(amount_due__gte=0),
            ),
            models.CheckConstraint(
                name="invoice_period_ordered",
                condition=Q(period_start__isnull=True)
                | Q(period_end__isnull=True)
                | Q(period_end__gte=models.F("period_start")),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="invoice_customer_recent_idx"),
            models.Index(fields=["status", "grace_until"], name="invoice_status_grace_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"


class LineKind(models.TextChoices):
    BASE_FEE = "base_fee", "Recurring fee"
    SETUP_FEE = "setup_fee", "Setup fee"
    USAGE = "usage", "Usage"
    PRORATION_CREDIT = "proration_credit", "Proration credit"
    PRORATION_CHARGE = "proration_charge", "Proration charge"
    PREPAID_CREDITS = "prepaid_credits", "Prepaid credits"


class InvoiceLine(models.Model):
    """One line of an invoice. Usage lines keep the window and meter that let an operator
    open the exact events behind them."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    plan = models.ForeignKey(
        "catalog.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    charge = models.ForeignKey(
        "catalog.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    meter = models.ForeignKey(
        "catalog.Meter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.DecimalField(**QUANTITY, default=0)
    unit_amount = models.DecimalField(**UNIT_PRICE, null=True, blank=True)
    amount = models.DecimalField(**AMOUNT, help_text="Rounded to the currency's minor unit.")
    breakdown = models.JSONField(default=dict, blank=True)
    # The usage window [usage_start, usage_end) the quantity was measured over.
    usage_start = models.DateTimeField(null=True, blank=True)
    usage_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return self.description


class LedgerEntry(models.Model):
    """What one invoice line billed of one charge for one slice of one billing period.

    The charge ledger (docs/architecture.md): the slice of period P during which the
    subscription was on one plan version is keyed by (subscription, charge, period_start,
    slice_start); the amounts of its entries on invoices that are not void add up to what has
    been billed of it so far. Each entry records the usage it priced, up to `usage_until`.
    """

    line = models.OneToOneField(InvoiceLine, on_delete=models.CASCADE, related_name="ledger")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="ledger")
    subscription = models.ForeignKey(
        "customers.Subscription", on_delete=models.PROTECT, related_name="ledger"
    )
    charge = models.ForeignKey("catalog.Charge", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateTimeField(help_text="The billing period's start.")
    slice_start = models.DateTimeField(help_text="Where the plan version's part of it starts.")
    slice_end = models.DateTimeField()
    window_start = models.DateTimeField(help_text="Where the usage accumulates from.")
    usage_until = models.DateTimeField(help_text="The usage priced is up to this moment.")
    quantity = models.DecimalField(**QUANTITY, help_text="The window's quantity priced.")
    event_count = models.PositiveBigIntegerField(default=0)
    owed = models.DecimalField(**AMOUNT, help_text="What the slice owed then, rounded once.")
    amount = models.DecimalField(**AMOUNT, help_text="What this line billed: owed − billed before.")

    class Meta:
        ordering = ["subscription", "charge", "period_start", "slice_start", "usage_until", "id"]
        indexes = [
            models.Index(
                fields=["subscription", "period_start", "charge"], name="ledger_slice_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="ledger_slice_ordered",
                condition=Q(slice_end__gt=models.F("slice_start"))
                & Q(usage_until__gte=models.F("window_start")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charge_id} @ {self.period_start:%Y-%m-%d}: {self.amount}"


class InvoiceSequence(models.Model):
    """The last number given per year; locked with select_for_update at finalization."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"
