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
    # Per tax rate, as applied (docs/architecture.md, "Money"): [{"name", "rate", "amount",
    # "jurisdiction"}]; its amounts add up to `tax`.
    taxes = models.JSONField(default=list, blank=True)
    tax_exempt_reason = models.CharField(
        max_length=300, blank=True, help_text="Printed on the invoice when the customer is exempt."
    )
    # The coupons applied: [{"code", "name", "amount"}]; the amounts add up to `discount`.
    coupons = models.JSONField(default=list, blank=True)
    amount_credited = models.DecimalField(
        **AMOUNT,
        default=0,
        help_text="What its credit notes credited, plus next-invoice credit notes taken off it: "
        "the payment ledger owes amount_due − amount_credited − paid.",
    )
    reissue_requested = models.BooleanField(
        default=False,
        help_text="Void and reissue: the next close bills this invoice's period again.",
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
            # A void invoice leaves room for its reissue (docs/operations.md, "Void and reissue").
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end", "kind"],
                condition=~Q(status="void"),
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
                & Q(amount_due__gte=0)
                & Q(amount_credited__gte=0),
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
    discount = models.DecimalField(
        **AMOUNT, default=0, help_text="This line's share of the invoice's coupon discount."
    )
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


class CreditNoteOutcome(models.TextChoices):
    REFUND = "refund", "Refund through the payment gateway"
    WALLET = "wallet", "Credit to the customer's wallet"
    NEXT_INVOICE = "next_invoice", "Offset on the next invoice"


class CreditNoteStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    VOID = "void", "Void"


class CreditNote(TimestampedModel):
    """A correction of a finalized invoice (docs/operations.md, "Credit notes").

    Its `total` first reduces what is still owed on the invoice (`applied_to_invoice`); the rest,
    money the customer had already paid, goes to the outcome (`outcome_amount`): refunded,
    credited to the wallet, or offset on the next invoice. Numbered gaplessly per year in its
    own series, CN-2026-000001.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.CharField(max_length=32, unique=True)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500)
    outcome = models.CharField(max_length=20, choices=CreditNoteOutcome.choices)
    status = models.CharField(
        max_length=10, choices=CreditNoteStatus.choices, default=CreditNoteStatus.ISSUED
    )
    subtotal = models.DecimalField(**AMOUNT, default=0, help_text="Before tax.")
    tax = models.DecimalField(**AMOUNT, default=0)
    # Per tax rate, as on the invoice: [{"name", "rate", "amount"}].
    taxes = models.JSONField(default=list, blank=True)
    total = models.DecimalField(**AMOUNT, help_text="subtotal + tax: what is credited.")
    applied_to_invoice = models.DecimalField(
        **AMOUNT, default=0, help_text="The part that reduced what was still owed on the invoice."
    )
    outcome_amount = models.DecimalField(
        **AMOUNT, default=0, help_text="The rest: refunded, to the wallet, or the next invoice."
    )
    # next_invoice: how much of outcome_amount later invoices have used (InvoiceOffset rows).
    offset_used = models.DecimalField(**AMOUNT, default=0)
    refund_id = models.BigIntegerField(null=True, blank=True, help_text="payments.Refund id.")
    wallet_reference = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_by = models.CharField(max_length=150, blank=True)
    issued_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    pdf_file = models.FileField(upload_to="credit_notes/pdf/%Y/", blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="credit_note_amounts_gte_0",
                condition=Q(subtotal__gte=0)
                & Q(tax__gte=0)
                & Q(total__gt=0)
                & Q(applied_to_invoice__gte=0)
                & Q(outcome_amount__gte=0)
                & Q(offset_used__gte=0)
                & Q(offset_used__lte=models.F("outcome_amount")),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-issued_at"], name="credit_note_customer_idx"),
            models.Index(fields=["issued_at"], name="credit_note_issued_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    """What a credit note credits of one invoice line (or of the invoice as a whole)."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note_lines",
    )
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**AMOUNT, help_text="Before tax, rounded to the currency.")
    tax = models.DecimalField(**AMOUNT, default=0)

    class Meta:
        ordering = ["credit_note", "position", "id"]
        constraints = [
            models.CheckConstraint(name="credit_note_line_amount_gt_0", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNoteSequence(models.Model):
    """The last credit note number given per year (its own gapless series)."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class InvoiceOffset(models.Model):
    """A next-invoice credit note's amount taken off a later invoice's amount due."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="offsets")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="offsets")
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "invoice"], name="invoice_offset_once_per_note"
            ),
            models.CheckConstraint(name="invoice_offset_amount_gt_0", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.credit_note_id} → invoice {self.invoice_id}: {self.amount}"


class InvoiceDiscount(models.Model):
    """What one applied coupon took off one invoice (its consumption: once, repeating, fixed
    amount carried forward, counted over invoices that are not void)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="discounts")
    applied_coupon = models.ForeignKey(
        "customers.AppliedCoupon", on_delete=models.PROTECT, related_name="invoice_discounts"
    )
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "applied_coupon"], name="invoice_discount_once_per_coupon"
            ),
            models.CheckConstraint(
                name="invoice_discount_amount_gte_0", condition=Q(amount__gte=0)
            ),
        ]

    def __str__(self) -> str:
        return f"coupon {self.applied_coupon_id} on invoice {self.invoice_id}: {self.amount}"
