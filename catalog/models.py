"""The product catalog: meters (what is counted), plans, their charges and tiers, tax rates and
coupons."""

from django.db import models
from django.db.models import F, Q

from billing.models import TimestampedModel

UNIT_PRICE = {"max_digits": 24, "decimal_places": 12}
AMOUNT = {"max_digits": 20, "decimal_places": 6}
QUANTITY = {"max_digits": 24, "decimal_places": 6}


class Aggregation(models.TextChoices):
    COUNT = "count", "Count"
    SUM = "sum", "Sum"
    MAX = "max", "Max"
    MIN = "min", "Min"
    AVG = "avg", "Average"
    UNIQUE_COUNT = "unique_count", "Unique count"
    LATEST = "latest", "Latest value"


class MeterReset(models.TextChoices):
    PERIOD = "period", "Every billing period"
    NEVER = "never", "Never (cumulative over the subscription)"


class Meter(TimestampedModel):
    """Turns one customer's events of one name in one window into one quantity."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    event_name = models.CharField(max_length=200, db_index=True)
    aggregation = models.CharField(max_length=20, choices=Aggregation.choices)
    field = models.CharField(
        max_length=200, blank=True, help_text="Property path read (e.g. tokens or usage.bytes)."
    )
    filters = models.JSONField(
        default=dict, blank=True, help_text='Property → allowed values, e.g. {"model": ["gpt-4"]}.'
    )
    group_by = models.CharField(
        max_length=200, blank=True, help_text="Property that splits usage for display."
    )
    unit = models.CharField(max_length=50, blank=True)
    reset = models.CharField(max_length=10, choices=MeterReset.choices, default=MeterReset.PERIOD)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="meter_field_required_unless_count",
                condition=Q(aggregation="count") | ~Q(field=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Interval(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class BaseTiming(models.TextChoices):
    IN_ADVANCE = "in_advance", "In advance"
    IN_ARREARS = "in_arrears", "In arrears"


class Plan(TimestampedModel):
    """A priced offer. Rows sharing a `code` are versions; a version in use is never edited."""

    code = models.SlugField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.MONTH)
    interval_count = models.PositiveIntegerField(default=1)
    base_amount = models.DecimalField(**AMOUNT, default=0)
    base_timing = models.CharField(
        max_length=12, choices=BaseTiming.choices, default=BaseTiming.IN_ADVANCE
    )
    setup_amount = models.DecimalField(**AMOUNT, default=0)
    trial_days = models.PositiveIntegerField(default=0)
    trial_bills_usage = models.BooleanField(
        default=False,
        help_text="Bill the usage of a trial period. Off: a free trial is free (its usage shows "
        "at 0.00).",
    )
    metadata = models.JSONField(default=dict, blank=True)
    tax_rates = models.ManyToManyField(
        "catalog.TaxRate",
        blank=True,
        related_name="plans",
        help_text="The default taxes of this plan's invoices; a customer's own rates win.",
    )

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="plan_code_version_unique"),
            models.CheckConstraint(name="plan_base_amount_gte_0", condition=Q(base_amount__gte=0)),
            models.CheckConstraint(
                name="plan_setup_amount_gte_0", condition=Q(setup_amount__gte=0)
            ),
            models.CheckConstraint(
                name="plan_interval_count_gte_1", condition=Q(interval_count__gte=1)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code} v{self.version})"


class PricingModel(models.TextChoices):
    FLAT = "flat", "Flat fee when used"
    PER_UNIT = "per_unit", "Per unit"
    PACKAGE = "package", "Package"
    GRADUATED = "graduated", "Graduated tiers"
    VOLUME = "volume", "Volume tiers"
    STAIRSTEP = "stairstep", "Stairstep"
    PERCENTAGE = "percentage", "Percentage"


class Cadence(models.TextChoices):
    IN_ARREARS = "in_arrears", "At the end of the period"
    ON_DEMAND = "on_demand", "On demand (hourly or daily)"


# On-demand invoices bill the growth of the period's usage as it lands, so the quantity must
# never go down within its window (docs/architecture.md, "The charge ledger").
ON_DEMAND_AGGREGATIONS = frozenset(
    {Aggregation.COUNT, Aggregation.SUM, Aggregation.MAX, Aggregation.UNIQUE_COUNT}
)


class Charge(TimestampedModel):
    """Prices one meter's usage on a plan with one pricing model."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="charges")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="charges")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=200, blank=True, help_text="Invoice line label.")
    model = models.CharField(max_length=20, choices=PricingModel.choices)
    unit_amount = models.DecimalField(**UNIT_PRICE, null=True, blank=True)
    amount = models.DecimalField(**AMOUNT, null=True, blank=True, help_text="Flat fee.")
    package_size = models.DecimalField(**QUANTITY, null=True, blank=True)
    package_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    rate = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, help_text="Percent, e.g. 2.9"
    )
    fixed_amount = models.DecimalField(
        **UNIT_PRICE, null=True, blank=True, help_text="Per event, with percentage."
    )
    free_units = models.DecimalField(**QUANTITY, default=0)
    min_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    max_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    cadence = models.CharField(max_length=12, choices=Cadence.choices, default=Cadence.IN_ARREARS)

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.CheckConstraint(
                name="charge_amounts_gte_0",
                condition=(
                    (Q(unit_amount__isnull=True) | Q(unit_amount__gte=0))
                    & (Q(amount__isnull=True) | Q(amount__gte=0))
                    & (Q(package_amount__isnull=True) | Q(package_amount__gte=0))
                    & (Q(package_size__isnull=True) | Q(package_size__gt=0))
                    & (Q(rate__isnull=True) | Q(rate__gte=0))
                    & (Q(fixed_amount__isnull=True) | Q(fixed_amount__gte=0))
                    & Q(free_units__gte=0)
                    & (Q(min_amount__isnull=True) | Q(min_amount__gte=0))
                    & (Q(max_amount__isnull=True) | Q(max_amount__gte=0))
                ),
            ),
            models.CheckConstraint(
                name="charge_min_amount_lte_max_amount",
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=F("max_amount")),
            ),
        ]

    def __str__(self) -> str:
        return self.description or f"{self.meter.name} ({self.get_model_display()})"


class Tier(models.Model):
    """One band of a tiered charge: units up to `up_to` (inclusive; null on the last band)."""

    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="tiers")
    position = models.PositiveIntegerField(default=0)
    up_to = models.DecimalField(**QUANTITY, null=True, blank=True)
    unit_amount = models.DecimalField(**UNIT_PRICE, default=0)
    flat_amount = models.DecimalField(**AMOUNT, default=0)

    class Meta:
        ordering = ["charge", "position", "id"]
        constraints = [
            models.CheckConstraint(
                name="tier_prices_gte_0",
                condition=Q(unit_amount__gte=0) & Q(flat_amount__gte=0),
            ),
            models.CheckConstraint(
                name="tier_up_to_gt_0", condition=Q(up_to__isnull=True) | Q(up_to__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"up to {self.up_to}" if self.up_to is not None else "and above"


# --- entitlements: features and what plans grant (docs/architecture.md, "Entitlements") -------

# A metered limit is a quantity per period (docs/api.md, "Entitlements").
FEATURE_MAX_LIMIT = 10**15
FEATURE_MAX_ALERTS = 10
FEATURE_MAX_ALERT_PERCENT = 1000


class FeatureType(models.TextChoices):
    BOOLEAN = "boolean", "Boolean (on or off)"
    METERED = "metered", "Metered (a limit per period on a meter)"
    STATIC = "static", "Static (a value: seats, a model name)"


class Feature(TimestampedModel):
    """Something a plan lets a customer do; `code` is what the entitlement API is asked for."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=FeatureType.choices)
    meter = models.ForeignKey(
        Meter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="features",
        help_text="Metered features only: the meter whose period quantity is the usage.",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="feature_type_valid", condition=Q(type__in=FeatureType.values)
            ),
            models.CheckConstraint(
                name="feature_meter_iff_metered",
                condition=Q(type=FeatureType.METERED, meter__isnull=False)
                | (~Q(type=FeatureType.METERED) & Q(meter__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class GrantTerms(models.Model):
    """What a grant gives of a feature: for a metered one a limit per period (null: unlimited),
    hard (refused once reached) or soft (allowed, the overage shown); for a static one a value.
    `alerts` are percents of the limit at which the customer is told, once per period."""

    limit = models.DecimalField(**QUANTITY, null=True, blank=True)
    hard = models.BooleanField(default=True)
    value = models.CharField(max_length=255, blank=True)
    alerts = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


class PlanFeature(GrantTerms):
    """A plan's grant of a feature (a subscription may override it: customers.models)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="feature_grants")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="grants")

    class Meta:
        ordering = ["plan", "feature__code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "feature"], name="plan_feature_once"),
            models.CheckConstraint(
                name="plan_feature_limit_gte_0", condition=Q(limit__isnull=True) | Q(limit__gte=0)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} v{self.plan.version}: {self.feature.code}"


class TaxRate(TimestampedModel):
    """A tax applied to invoices: `percentage` of the subtotal after discounts, rounded half-up
    per rate (docs/architecture.md, "Money")."""

    name = models.CharField(max_length=100)
    percentage = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Percent, e.g. 8.875 for 8.875 %."
    )
    jurisdiction = models.CharField(max_length=100, blank=True, help_text="e.g. US-NY, DE.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                name="tax_rate_percentage_0_100",
                condition=Q(percentage__gte=0) & Q(percentage__lte=100),
            ),
        ]

    def __str__(self) -> str:
        where = f", {self.jurisdiction}" if self.jurisdiction else ""
        return f"{self.name} ({self.percentage.normalize():f} %{where})"


class CouponKind(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    PERCENTAGE = "percentage", "Percentage"


class CouponDuration(models.TextChoices):
    ONCE = "once", "Once"
    REPEATING = "repeating", "Repeating for N periods"
    FOREVER = "forever", "Forever"


class Coupon(TimestampedModel):
    """A discount customers may be given (docs/operations.md, "Coupons")."""

    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=CouponKind.choices)
    amount = models.DecimalField(**AMOUNT, null=True, blank=True, help_text="For a fixed coupon.")
    currency = models.CharField(max_length=3, blank=True, help_text="For a fixed coupon.")
    percentage = models.DecimalField(
        max_digits=7, decimal_places=4, null=True, blank=True, help_text="For a percentage one."
    )
    duration = models.CharField(max_length=10, choices=CouponDuration.choices)
    duration_periods = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a repeating coupon: how many invoices it applies to."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="It can no longer be applied to a customer after this."
    )
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many customers may be given it at most."
    )
    plans = models.ManyToManyField(
        Plan, blank=True, related_name="coupons", help_text="Only these plans (none: any plan)."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="coupon_fixed_or_percentage",
                condition=(Q(kind="fixed", amount__gt=0, percentage__isnull=True) & ~Q(currency=""))
                | Q(kind="percentage", amount__isnull=True, percentage__gt=0, percentage__lte=100),
            ),
            models.CheckConstraint(
                name="coupon_repeating_has_periods",
                condition=Q(duration="repeating", duration_periods__gte=1)
                | (~Q(duration="repeating") & Q(duration_periods__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
