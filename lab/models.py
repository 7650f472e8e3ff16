"""Backtests: a saved, read-only report of what a draft plan would have billed on real past
usage, beside what was invoiced (docs/operations.md, "Pricing lab")."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import TimestampedModel

AMOUNT = {"max_digits": 20, "decimal_places": 6}


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SelectionMode(models.TextChoices):
    PLAN = "plan", "All subscribers of the plan"
    CUSTOMERS = "customers", "A list of customers"
    SAMPLE = "sample", "A sample of the plan's subscribers"


class Backtest(TimestampedModel):
    """One run of a draft plan over the billing periods inside [period_from, period_to).

    `selection` records how customers were chosen (mode, and the sample size); `customers`
    holds the external ids actually selected, so the report says whom it covers.
    """

    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_by = models.CharField(
        max_length=255, help_text="Who ran it: an admin user or an API key, by name."
    )
    period_from = models.DateTimeField()
    period_to = models.DateTimeField()
    selection = models.CharField(max_length=12, choices=SelectionMode.choices)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    customers = models.JSONField(default=list, blank=True)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of customers done.")
    customers_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    periods = models.PositiveIntegerField(default=0, help_text="Billing periods re-rated.")
    billed_total = models.DecimalField(**AMOUNT, default=0)
    would_be_total = models.DecimalField(**AMOUNT, default=0)
    difference_total = models.DecimalField(**AMOUNT, default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="backtest_range_ordered", condition=Q(period_to__gt=models.F("period_from"))
            ),
            models.CheckConstraint(
                name="backtest_progress_lte_100", condition=Q(progress__lte=100)
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest #{self.pk} of {self.plan}"

    @property
    def difference_percent(self):
        return percent_of(self.difference_total, self.billed_total)


def percent_of(difference, billed):
    """The difference as a percent of what was billed, or None when nothing was billed."""
    if not billed:
        return None
    return (difference * 100 / billed).quantize(type(difference)("0.01"))


class BacktestRow(models.Model):
    """One customer's result: billed vs would-be over the selected periods, and per charge.

    `charges` maps a charge key (its meter's code, or "base_fee") to
    {"label", "billed", "would_be"} as decimal strings.
    """

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="rows")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    periods = models.PositiveIntegerField(default=0)
    billed = models.DecimalField(**AMOUNT)
    would_be = models.DecimalField(**AMOUNT)
    difference = models.DecimalField(**AMOUNT)
    difference_percent = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    charges = models.JSONField(default=dict)

    class Meta:
        ordering = ["backtest", "customer__external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["backtest", "customer"], name="backtest_row_customer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.billed} → {self.would_be}"
