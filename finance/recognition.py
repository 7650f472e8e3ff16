"""How an amount is spread over months (docs/operations.md, "Finance"): pure arithmetic on
dates and Decimals, no ORM.

Each schedule is a list of (month, amount) that adds up to its amount exactly: the amount
recognised by the end of month k is round_half_up(amount × weight up to k / total weight), and a
month gets the difference from the month before (cumulative rounding). The remainder cents
fall deterministically where the exact cumulative share crosses a half cent, never more than
one minor unit away from the month's exact share.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext

from rating import round_money
from rating.money import DIVISION, EXACT

ZERO = Decimal("0")


def month_of(day: date) -> date:
    """The first day of `day`'s month: how months are keyed everywhere in finance."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included (first days of months)."""
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


@dataclass(frozen=True, slots=True)
class ServiceDays:
    """The UTC days [first, end) a service window covers."""

    first: date
    end: date  # exclusive

    @property
    def count(self) -> int:
        return (self.end - self.first).days


def service_days(start: datetime, end: datetime) -> ServiceDays:
    """The days of the window [start, end): from start's UTC date up to end's date, exclusive
    (Jan 15 10:30 → Feb 15 10:30 is Jan 15 … Feb 14, 31 days; the next window starts on Feb 15).
    A window within one day (a minutely or hourly plan) is that one day."""
    first, last = start.date(), end.date()
    if last <= first:
        return ServiceDays(first, first + timedelta(days=1))
    return ServiceDays(first, last)


def days_per_month(days: ServiceDays) -> list[tuple[date, int]]:
    """[(month, number of the window's days in it)], in order."""
    weights = []
    for month in months_between(days.first, days.end - timedelta(days=1)):
        start = max(month, days.first)
        end = min(next_month(month), days.end)
        weights.append((month, (end - start).days))
    return weights


def allocate(amount: Decimal, weights: list[tuple[date, Decimal | int]], *, exponent: int):
    """Spread `amount` (already at the currency's minor unit) over the months of `weights` in
    proportion to them, by cumulative rounding: [(month, amount)] adding up to `amount`
    exactly. Months whose share rounds to zero are left out. A zero total weight (weights
    that cancel out) puts everything in the first month."""
    total = sum((Decimal(weight) for _, weight in weights), ZERO)
    if not weights:
        raise ValueError("Nothing to allocate over: no months.")
    if total == ZERO:
        return [(weights[0][0], amount)] if amount else []
    entries, running, recognised = [], ZERO, ZERO
    for month, weight in weights:
        running += Decimal(weight)
        with localcontext(DIVISION):
            share = amount * running / total
        with localcontext(EXACT):
            through = round_money(share, exponent=exponent)
            part = through - recognised
        recognised = through
        if part:
            entries.append((month, part))
    return _merged(entries)


def collapse_before(weights: list[tuple[date, Decimal]], month: date) -> list[tuple[date, Decimal]]:
    """The weights with every month before `month` folded into `month`: what was recognised
    in closed months is reversed in `month`, never by restating them."""
    earlier = sum((weight for when, weight in weights if when < month), ZERO)
    later = [(when, weight) for when, weight in weights if when >= month]
    if later and later[0][0] == month:
        later[0] = (month, later[0][1] + earlier)
        return later
    return [(month, earlier), *later]


def _merged(entries: list[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    merged: dict[date, Decimal] = {}
    for month, amount in entries:
        merged[month] = merged.get(month, ZERO) + amount
    return [(month, amount) for month, amount in sorted(merged.items()) if amount]
