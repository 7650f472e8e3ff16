"""Customers and their subscriptions, with the history of plans a subscription went through."""

from django.db import models
from django.db.models import F, Q

from billing.models import TimestampedModel
from catalog.models import Feature, GrantTerms, Plan
from customers.validators import validate_country_code, validate_currency_code


class Customer(TimestampedModel):
    """Someone the business bills. `external_id` is the id integrations and events use."""

    external_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    currency = models.CharField(
        max_length=3,
        blank=True,
        validators=[validate_currency_code],
        help_text="ISO 4217; set from the first subscription when blank.",
    )
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=255, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=255, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_country_code],
        help_text="ISO 3166-1 alpha-2, e.g. US.",
    )
    tax_id = models.CharField(max_length=64, blank=True)
    net_payment_terms_days = models.PositiveIntegerField(
        default=0, help_text="Days between an invoice's issue and due dates."
    )
    invoice_grace_period_hours = models.PositiveIntegerField(
        default=0, help_text="Hours a closed invoice stays a draft, open to late events."
    )
    metadata = models.JSONField(default=dict, blank=True)
    tax_rates = models.ManyToManyField(
        "catalog.TaxRate",
        blank=True,
        related_name="customers",
        help_text="This customer's taxes; when set, they replace the plan's.",
    )
    tax_exempt = models.BooleanField(default=False)
    tax_exempt_reason = models.CharField(
        max_length=300, blank=True, help_text="Printed on the invoices of an exempt customer."
    )

    class Meta:
        ordering = ["name", "external_id"]
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]
        constraints = [
            models.CheckConstraint(
                name="customer_tax_exempt_has_reason",
                condition=Q(tax_exempt=False) | ~Q(tax_exempt_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def billing_address_lines(self) -> list[str]:
        """The postal address as printed on an invoice, empty lines left out."""
        city_line = " ".join(part for part in (self.postal_code, self.city) if part)
        region_line = ", ".join(part for part in (self.state, self.country) if part)
        lines = [self.address_line1, self.address_line2, city_line, region_line]
        return [line for line in lines if line]


class SubscriptionStatus(models.TextChoices):
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    CANCELED = "canceled", "Canceled"
    ENDED = "ended", "Ended"


LIVE_STATUSES = (SubscriptionStatus.TRIALING.value, SubscriptionStatus.ACTIVE.value)


class BillingAnchor(models.TextChoices):
    ANNIVERSARY = "anniversary", "Anniversary (the start date)"
    CALENDAR = "calendar", "Calendar (the 1st of the month/year)"


class Subscription(TimestampedModel):
    """A customer on a plan. The current period is the first one not billed yet.

    `plan` is the plan version in effect now; the phases keep which version applied when.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    anchor = models.CharField(
        max_length=12, choices=BillingAnchor.choices, default=BillingAnchor.ANNIVERSARY
    )
    started_at = models.DateTimeField()
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(
        null=True, blank=True, help_text="When a cancellation asked for at period end takes effect."
    )
    canceled_at = models.DateTimeField(
        null=True, blank=True, help_text="When the cancellation was asked for."
    )
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When billing stopped.")
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Expiration: the subscription ends by itself then."
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Billing blocked: the cycle close failed for this subscription since then, for this reason
    # (the latest failure); cleared by the next period it closes (docs/operations.md).
    billing_blocked_at = models.DateTimeField(null=True, blank=True)
    billing_blocked_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="subscription_status_valid",
                condition=Q(status__in=SubscriptionStatus.values),
            ),
            models.CheckConstraint(
                name="subscription_anchor_valid", condition=Q(anchor__in=BillingAnchor.values)
            ),
            models.CheckConstraint(
                name="subscription_period_ordered",
                condition=(
                    Q(current_period_start__isnull=True, current_period_end__isnull=True)
                    | Q(current_period_end__gt=F("current_period_start"))
                ),
            ),
            models.CheckConstraint(
                name="subscription_ends_after_start",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("started_at")),
            ),
            models.CheckConstraint(
                name="subscription_trial_after_start",
                condition=Q(trial_ends_at__isnull=True) | Q(trial_ends_at__gt=F("started_at")),
            ),
            models.CheckConstraint(
                name="subscription_ended_after_start",
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
            ),
            # Usage is counted per customer: two live subscriptions would bill it twice.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=LIVE_STATUSES),
                name="subscription_one_live_per_customer",
            ),
        ]
        indexes = [
            models.Index(fields=["current_period_end"], name="subscription_period_end_idx"),
            models.Index(fields=["status"], name="subscription_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer.external_id} on {self.plan.code} v{self.plan.version}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class PhaseReason(models.TextChoices):
    START = "start", "Start"
    UPGRADE = "upgrade", "Upgrade"
    DOWNGRADE = "downgrade", "Downgrade"
    PLAN_CHANGE = "plan_change", "Plan change"


class SubscriptionPhase(TimestampedModel):
    """The plan version in effect over [starts_at, ends_at); ends_at is null while open.

    `cycle_anchor_at` is the moment this phase's billing periods are counted from: the start
    (or the trial's end), kept across changes of the same interval, reset by an interval change.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="phases")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="phases")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=12, choices=PhaseReason.choices)
    cycle_anchor_at = models.DateTimeField()

    class Meta:
        ordering = ["subscription", "starts_at"]
        constraints = [
            models.CheckConstraint(
                name="subscription_phase_ends_after_start",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
            ),
            models.UniqueConstraint(
                fields=["subscription", "starts_at"], name="subscription_phase_start_unique"
            ),
            models.CheckConstraint(
                name="subscription_phase_reason_valid", condition=Q(reason__in=PhaseReason.values)
            ),
        ]

    def __str__(self) -> str:
        end = self.ends_at.isoformat() if self.ends_at else "…"
        return f"{self.plan.code} v{self.plan.version} [{self.starts_at.isoformat()}, {end})"

    def covers(self, moment) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)


class SubscriptionFeature(TimestampedModel, GrantTerms):
    """A subscription's override of its plan's grant of a feature (or a grant the plan lacks):
    its own limit, hardness, value and alerts; `enabled` off takes the feature away."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="feature_overrides"
    )
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="overrides")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["subscription", "feature__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "feature"], name="subscription_feature_once"
            ),
            models.CheckConstraint(
                name="subscription_feature_limit_gte_0",
                condition=Q(limit__isnull=True) | Q(limit__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.subscription_id}: {self.feature.code}"


# --- wallets: prepaid credits (docs/architecture.md, "Wallets") ------------------------------

# Bounds of what a wallet accepts (docs/api.md, "Wallets").
WALLET_MAX_AMOUNT = 1_000_000_000  # one transaction's amount, in the currency's major unit
WALLET_MAX_PRIORITY = 1000
WALLET_DEFAULT_PRIORITY = 100


class Wallet(TimestampedModel):
    """A customer's prepaid credits in one currency. Its balance is the sum of its transactions
    (customers.selectors.wallet_balance), never a stored number."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="wallets")
    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    low_balance_threshold = models.DecimalField(
        max_digits=20,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="The customer is emailed once each time the balance falls below this; "
        "empty: never.",
    )
    # Set when the balance fell below the threshold (the crossing), cleared when it is back at
    # or above it: the admin's flag, and what makes the email go once per crossing.
    low_balance_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "currency"], name="wallet_one_per_customer_currency"
            ),
            models.CheckConstraint(
                name="wallet_threshold_gte_0",
                condition=Q(low_balance_threshold__isnull=True) | Q(low_balance_threshold__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer.external_id} {self.currency} wallet"


class WalletTransactionKind(models.TextChoices):
    GRANT = "grant", "Grant (free credits)"
    PURCHASE = "purchase", "Purchase (paid top-up)"
    CONSUMPTION = "consumption", "Consumption (applied to an invoice)"
    EXPIRY = "expiry", "Expiry"
    VOID = "void", "Void"


CREDIT_KINDS = (WalletTransactionKind.GRANT.value, WalletTransactionKind.PURCHASE.value)
DEBIT_KINDS = (
    WalletTransactionKind.CONSUMPTION.value,
    WalletTransactionKind.EXPIRY.value,
    WalletTransactionKind.VOID.value,
)


class WalletTransaction(models.Model):
    """One line of a wallet's ledger, never changed once written.

    A credit (grant, purchase) has a positive amount, a priority and maybe an expiry; a debit
    (consumption, expiry, void) has a negative amount and draws on one credit (`credit`), so
    what is left of each credit is its amount plus its debits. `source_key` makes each write
    idempotent: a credit once per (wallet, key), a debit once per (credit, key).
    """

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=12, choices=WalletTransactionKind.choices)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    credit = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="debits",
        help_text="For a debit: the credit it draws on.",
    )
    priority = models.PositiveIntegerField(
        default=WALLET_DEFAULT_PRIORITY, help_text="Credits with a lower number are spent first."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(
        max_length=255, blank=True, help_text="The user or API key that wrote it; empty: Tally."
    )
    source_key = models.CharField(max_length=255, blank=True)
    # The invoice consumed by (consumption) or paying for (purchase) this transaction: an id,
    # not a foreign key, because customers sits below invoices (docs/architecture.md).
    invoice_ref = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["wallet", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="wallet_transaction_kind_valid",
                condition=Q(kind__in=WalletTransactionKind.values),
            ),
            models.CheckConstraint(
                name="wallet_transaction_sign",
                condition=(Q(kind__in=CREDIT_KINDS, amount__gt=0, credit__isnull=True))
                | (Q(kind__in=DEBIT_KINDS, amount__lt=0, credit__isnull=False)),
            ),
            models.UniqueConstraint(
                fields=["wallet", "source_key"],
                condition=Q(credit__isnull=True) & ~Q(source_key=""),
                name="wallet_credit_source_once",
            ),
            models.UniqueConstraint(
                fields=["credit", "source_key"],
                condition=Q(credit__isnull=False) & ~Q(source_key=""),
                name="wallet_debit_source_once",
            ),
        ]
        indexes = [
            models.Index(fields=["wallet", "kind"], name="wallet_tx_wallet_kind_idx"),
            models.Index(fields=["invoice_ref"], name="wallet_tx_invoice_idx"),
            models.Index(fields=["expires_at"], name="wallet_tx_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.wallet.currency}"

    @property
    def is_credit(self) -> bool:
        return self.kind in CREDIT_KINDS


class AppliedCoupon(TimestampedModel):
    """A coupon given to a customer. What it has taken off so far is the sum of its
    invoices.InvoiceDiscount rows on invoices that are not void (docs/operations.md, "Coupons")."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="coupons")
    coupon = models.ForeignKey(
        "catalog.Coupon", on_delete=models.PROTECT, related_name="applications"
    )
    applied_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "applied_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "coupon"], name="applied_coupon_once_per_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} → {self.customer_id}"
