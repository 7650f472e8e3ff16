"""Re-rating one subscription's closed billing periods on a draft plan, beside what was billed.

Read-only, and through the cycle close's own code (docs/architecture.md, "The charge ledger"):
each period's `timeline_of`, each slice priced by `charge_owed` with the slice's plan replaced
by the draft (same windows, free units, minimum and cap shares, trial rule), the draft's base
fee by the builder's `_fee_line` for the slice's share. What was billed for a period is read
from the invoices that are not void: usage from the ledger entries of the period, fees from
the fee lines whose window starts in it (an in-advance fee billed at the previous close counts
for the period it pays for; a credit for a period cut short counts for that period). Setup
fees, discounts, taxes and wallet credits are left out on both sides.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum

from catalog.models import Plan
from customers.models import Subscription
from customers.selectors import period_after, period_at, subscription_phases
from invoices.models import InvoiceLine, InvoiceStatus, LedgerEntry, LineKind
from invoices.services.builder import _fee_line, timeline_of
from invoices.services.inputs import BuildContext
from invoices.services.ledger import accumulation_start, charge_owed
from invoices.services.prefetch import usage_prime_windows
from rating import Period

ZERO = Decimal("0")
BASE_FEE = "base_fee"
BASE_FEE_LABEL = "Base fee"
FEE_KINDS = [LineKind.BASE_FEE, LineKind.PRORATION_CHARGE, LineKind.PRORATION_CREDIT]
# A subscription on a minute plan has half a million periods a year: a backtest stops there.
MAX_PERIODS_PER_SUBSCRIPTION = 1000


class TooManyPeriods(Exception):
    pass


@dataclass
class ChargeMovement:
    label: str
    billed: Decimal = ZERO
    would_be: Decimal = ZERO


@dataclass
class Rerated:
    """One subscription's (or one customer's) periods: billed and would-be, per charge key."""

    periods: int = 0
    charges: dict[str, ChargeMovement] = field(default_factory=dict)

    @property
    def billed(self) -> Decimal:
        return sum((movement.billed for movement in self.charges.values()), ZERO)

    @property
    def would_be(self) -> Decimal:
        return sum((movement.would_be for movement in self.charges.values()), ZERO)

    def movement(self, key: str, label: str) -> ChargeMovement:
        if key not in self.charges:
            self.charges[key] = ChargeMovement(label=label)
        return self.charges[key]

    def merge(self, other: "Rerated") -> None:
        self.periods += other.periods
        for key, movement in other.charges.items():
            mine = self.movement(key, movement.label)
            mine.billed += movement.billed
            mine.would_be += movement.would_be


def closed_periods(
    *, subscription: Subscription, period_from: datetime, period_to: datetime
) -> list[Period]:
    """The subscription's billing periods inside [period_from, period_to) that were closed
    (billed): a period that starts before the range or ends after it is left out."""
    limit = period_to
    if subscription.current_period_start is not None:
        limit = min(limit, subscription.current_period_start)
    phases = subscription_phases(subscription=subscription)
    if not phases:
        return []
    period = period_at(
        subscription=subscription, phases=phases, at=max(period_from, subscription.started_at)
    )
    if period is not None and period.start < period_from:
        period = period_after(subscription=subscription, phases=phases, boundary=period.end)
    periods = []
    while period is not None and period.end <= limit and period.end > period.start:
        periods.append(period)
        if len(periods) > MAX_PERIODS_PER_SUBSCRIPTION:
            raise TooManyPeriods(
                f"Subscription #{subscription.pk} has more than {MAX_PERIODS_PER_SUBSCRIPTION} "
                "billing periods in the range: choose a shorter range."
            )
        period = period_after(subscription=subscription, phases=phases, boundary=period.end)
    return periods


def usage_prime(
    *, ctx: BuildContext, draft: Plan, periods_of: list[tuple[Subscription, list[Period]]]
) -> int:
    """Read ahead, one query per (meter, window), the usage the draft's charges price for these
    subscriptions' periods (the same windows `charge_owed` reads). Returns the values primed."""
    windows: dict[tuple, set[str]] = defaultdict(set)
    meters = {}
    charges = ctx.plans.charges(draft)
    for subscription, periods in periods_of:
        for period in periods:
            timeline = timeline_of(
                subscription=subscription,
                cycle_start=period.start,
                start=period.start,
                end=period.end,
            )
            for piece in timeline.slices:
                for priced in charges:
                    meters[priced.meter.pk] = priced.meter
                    start = accumulation_start(priced=priced, piece=piece)
                    end = max(start, piece.end)
                    windows[(priced.meter.pk, start, end)].add(subscription.customer.external_id)
    return usage_prime_windows(ctx=ctx, windows=windows, meters=meters)


# What was billed, per subscription: {charge key: ChargeMovement with only `billed` set}.
BilledBySubscription = dict[int, dict[str, ChargeMovement]]


def subscription_rerate(
    *,
    subscription: Subscription,
    draft: Plan,
    periods: list[Period],
    billed: BilledBySubscription,
    ctx: BuildContext,
) -> Rerated:
    """What the draft would have billed for each of `periods` (closed periods of the
    subscription, from `closed_periods`), beside what was billed for them (`billed_read`)."""
    result = Rerated(periods=len(periods))
    for period in periods:
        _would_be(result, subscription=subscription, draft=draft, period=period, ctx=ctx)
    for key, movement in billed.get(subscription.pk, {}).items():
        if key == BASE_FEE and not movement.billed and BASE_FEE not in result.charges:
            continue  # no fee on either side
        result.movement(key, movement.label).billed += movement.billed
    return result


def _would_be(
    result: Rerated, *, subscription: Subscription, draft: Plan, period: Period, ctx: BuildContext
) -> None:
    timeline = timeline_of(
        subscription=subscription, cycle_start=period.start, start=period.start, end=period.end
    )
    for piece in timeline.slices:
        draft_piece = replace(piece, plan=draft)
        for priced in ctx.plans.charges(draft):
            owed = charge_owed(
                subscription=subscription,
                period_start=timeline.period.start,
                piece=draft_piece,
                priced=priced,
                until=piece.end,
                ctx=ctx,
                trial=timeline.trial,
                final=True,
            )
            result.movement(priced.meter.code, priced.meter.name).would_be += owed.amount
        if not timeline.trial and draft.base_amount > 0:
            fee = _fee_line(
                draft,
                kind=LineKind.BASE_FEE,
                start=piece.start,
                end=piece.end,
                period=timeline.period,
                description="",
            )
            result.movement(BASE_FEE, BASE_FEE_LABEL).would_be += fee.amount


def billed_read(*, periods_of: list[tuple[Subscription, list[Period]]]) -> BilledBySubscription:
    """What the invoices that are not void billed for these subscriptions' periods, in two
    queries: usage from the ledger entries of each period, fees from the fee lines by the period
    their window starts in (see the module docstring)."""
    periods_by_id = {subscription.pk: periods for subscription, periods in periods_of if periods}
    billed: BilledBySubscription = {pk: {} for pk in periods_by_id}
    if not periods_by_id:
        return billed
    starts = {period.start for periods in periods_by_id.values() for period in periods}
    usage = (
        LedgerEntry.objects.filter(subscription_id__in=periods_by_id, period_start__in=starts)
        .exclude(invoice__status=InvoiceStatus.VOID)
        .values("subscription_id", "period_start", "charge__meter__code", "charge__meter__name")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for row in usage:
        periods = periods_by_id[row["subscription_id"]]
        if not any(period.start == row["period_start"] for period in periods):
            continue
        mine = billed[row["subscription_id"]]
        key = row["charge__meter__code"]
        mine.setdefault(key, ChargeMovement(label=row["charge__meter__name"])).billed += row[
            "amount"
        ]
    first = min(starts)
    last = max(period.end for periods in periods_by_id.values() for period in periods)
    fees = (
        InvoiceLine.objects.filter(
            invoice__subscription_id__in=periods_by_id,
            kind__in=FEE_KINDS,
            usage_start__gte=first,
            usage_start__lte=last,
        )
        .exclude(invoice__status=InvoiceStatus.VOID)
        .values_list("invoice__subscription_id", "kind", "usage_start", "amount")
    )
    for subscription_id, kind, usage_start, amount in fees:
        periods = periods_by_id[subscription_id]
        if _fee_period(periods, kind=kind, usage_start=usage_start) is not None:
            mine = billed[subscription_id]
            mine.setdefault(BASE_FEE, ChargeMovement(label=BASE_FEE_LABEL)).billed += amount
    return billed


def _fee_period(periods: list[Period], *, kind: str, usage_start: datetime) -> int | None:
    """The period a fee line counts for: the one its window starts in, or, for the credit of a
    period cut short (canceled, an end date), the period that ends where the credit starts."""
    for index, period in enumerate(periods):
        if period.start <= usage_start < period.end:
            return index
    if kind == LineKind.PRORATION_CREDIT:
        for index, period in enumerate(periods):
            if usage_start == period.end and period.end < period.full_end:
                return index
    return None
