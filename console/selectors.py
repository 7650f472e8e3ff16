"""The console's reads: the dashboard's figures and usage across customers.

Each figure is computed from the same selectors and ledgers as the API (payments.selectors for
what is owed, metering.selectors for usage), so the dashboard and the API agree
(tests/console/test_dashboard.py compares them). docs/operations.md, "The console".
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q

from catalog.currencies import round_to_currency
from catalog.models import Interval, Meter
from customers.models import Customer, Subscription, SubscriptionStatus
from invoices.models import Invoice, InvoiceStatus
from metering.models import Event
from metering.selectors import Usage, usage_by_customer
from payments.models import Payment, PaymentStatus
from payments.selectors import OPEN
from rating import add_interval

ZERO = Decimal("0")
# An average month, for plans billed by the week, day, hour or minute.
DAYS_PER_MONTH = Decimal("365.25") / 12
MONTHS_PER_INTERVAL = {
    Interval.MONTH: Decimal(1),
    Interval.QUARTER: Decimal(3),
    Interval.YEAR: Decimal(12),
    Interval.WEEK: Decimal(7) / DAYS_PER_MONTH,
    Interval.DAY: 1 / DAYS_PER_MONTH,
    Interval.HOUR: 1 / (DAYS_PER_MONTH * 24),
    Interval.MINUTE: 1 / (DAYS_PER_MONTH * 24 * 60),
}
# Invoices that were issued to a customer (a void one was withdrawn; a draft is not issued).
ISSUED = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
MAX_USAGE_CUSTOMERS = 5000


@dataclass(frozen=True, slots=True)
class Mrr:
    currency: str
    amount: Decimal
    previous: Decimal  # 30 days earlier

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous


def _paying_at(moment: datetime) -> Q:
    """Subscriptions that paid their fee at `moment`: started, not ended, out of trial."""
    return (
        Q(started_at__lte=moment)
        & (Q(ended_at__isnull=True) | Q(ended_at__gt=moment))
        & (Q(trial_ends_at__isnull=True) | Q(trial_ends_at__lte=moment))
    )


def _paid_at(subscription: Subscription, moment: datetime) -> bool:
    """`_paying_at` for one loaded row."""
    return (
        subscription.started_at <= moment
        and (subscription.ended_at is None or subscription.ended_at > moment)
        and (subscription.trial_ends_at is None or subscription.trial_ends_at <= moment)
    )


def mrr(*, at: datetime) -> list[Mrr]:
    """Monthly recurring revenue per currency: the recurring fees of the subscriptions paying at
    `at`, each brought to a month, and the same 30 days earlier (on each subscription's current
    plan: a plan change inside those 30 days counts at its new fee)."""
    before = at - timedelta(days=30)
    live = Subscription.objects.exclude(status=SubscriptionStatus.TRIALING).filter(
        Q(plan__base_amount__gt=0) & (_paying_at(at) | _paying_at(before))
    )
    now_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    then_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for subscription in live.select_related("plan"):
        plan = subscription.plan
        monthly = plan.base_amount / (MONTHS_PER_INTERVAL[plan.interval] * plan.interval_count)
        for moment, totals in ((at, now_totals), (before, then_totals)):
            if _paid_at(subscription, moment):
                totals[plan.currency] += monthly
    currencies = sorted(set(now_totals) | set(then_totals))
    return [
        Mrr(
            currency,
            round_to_currency(now_totals[currency], currency),
            round_to_currency(then_totals[currency], currency),
        )
        for currency in currencies
    ]


@dataclass(frozen=True, slots=True)
class MonthRevenue:
    month: date
    currency: str
    total: Decimal
    invoices: int


def revenue_by_month(*, at: datetime, months: int = 12) -> list[MonthRevenue]:
    """The totals of the invoices issued in each of the last `months` calendar months (the
    current one included), per currency; every month present (0 when nothing was issued)."""
    this_month = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = this_month
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = (
        Invoice.objects.filter(status__in=ISSUED, issued_at__gte=first)
        .values_list("issued_at", "currency", "total")
        .order_by()
    )
    totals: dict[tuple[date, str], list] = defaultdict(lambda: [ZERO, 0])
    for issued_at, currency, total in rows:
        key = (issued_at.astimezone(UTC).date().replace(day=1), currency)
        totals[key][0] += total
        totals[key][1] += 1
    currencies = sorted({currency for _, currency in totals})
    result = []
    month = first
    while month <= this_month:
        for currency in currencies:
            total, count = totals.get((month.date(), currency), (ZERO, 0))
            result.append(MonthRevenue(month.date(), currency, total, count))
        month = add_interval(month, interval="month")
    return result


def invoices_by_status() -> list[tuple[str, str, int]]:
    """(status, label, number of invoices) for every status, in the lifecycle's order."""
    counts = dict(
        Invoice.objects.values_list("status").annotate(count=Count("id")).order_by("status")
    )
    return [(status, label, counts.get(status, 0)) for status, label in InvoiceStatus.choices]


def failed_payments_open(*, limit: int = 10) -> tuple[int, list[Payment]]:
    """Failed payments whose invoice is still owed: the operator should act on them (retry,
    ask for another card, record a payment). The number, and the latest `limit` of them."""
    failed = Payment.objects.filter(
        status=PaymentStatus.FAILED, invoice__status__in=OPEN
    ).select_related("invoice", "invoice__customer")
    return failed.count(), list(failed.order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True, slots=True)
class CustomerUsageRow:
    external_id: str
    customer: Customer | None
    usage: Usage


def usage_top_customers(
    *, meter: Meter, start: datetime, end: datetime, limit: int | None = None
) -> tuple[Usage, list[CustomerUsageRow]]:
    """The meter's usage per customer over [start, end), largest first, and its total over
    them (the quantities of `usage_by_customer`, the cycle close's own selector). The total of
    a count or sum meter is the sum of the rows; of other aggregations, the sum of each
    customer's figure."""
    customers = {
        customer.external_id: customer
        for customer in Customer.objects.order_by("external_id")[:MAX_USAGE_CUSTOMERS]
    }
    by_customer = usage_by_customer(
        meter=meter, external_customer_ids=list(customers), start=start, end=end
    )
    rows = sorted(
        (
            CustomerUsageRow(external_id, customers.get(external_id), usage)
            for external_id, usage in by_customer.items()
            if usage.event_count
        ),
        key=lambda row: (-row.usage.quantity, row.external_id),
    )
    total = Usage(
        sum((row.usage.quantity for row in rows), ZERO),
        sum(row.usage.event_count for row in rows),
    )
    return total, rows if limit is None else rows[:limit]


@dataclass(frozen=True, slots=True)
class RecentEvents:
    total: int
    unknown_customer: int
    no_meter: int


def events_recent(*, at: datetime, hours: int = 24) -> RecentEvents:
    """Events received in the last `hours`, and how many match no customer or no meter."""
    events = Event.objects.filter(received_at__gt=at - timedelta(hours=hours), received_at__lte=at)
    known = Exists(Customer.objects.filter(external_id=OuterRef("external_customer_id")))
    names = list(Meter.objects.values_list("event_name", flat=True))
    figures = events.aggregate(
        total=Count("id"),
        unknown_customer=Count("id", filter=~Q(known)),
        no_meter=Count("id", filter=~Q(event_name__in=names)),
    )
    return RecentEvents(**figures)
