"""Billing-period arithmetic in aware UTC datetimes: boundaries, calendar floors, proration.

Periods are half-open [start, end). Month-based intervals are counted from the anchor, never by
chaining, so the anchor day is kept and clamped: Jan 31 → Feb 28 (29) → Mar 31 → Apr 30.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from functools import lru_cache

from rating.errors import RatingError
from rating.money import DIVISION, EXACT, to_decimal


class Interval(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Anchor(StrEnum):
    ANNIVERSARY = "anniversary"
    CALENDAR = "calendar"


_FIXED = {
    Interval.MINUTE: timedelta(minutes=1),
    Interval.HOUR: timedelta(hours=1),
    Interval.DAY: timedelta(days=1),
    Interval.WEEK: timedelta(weeks=1),
}
_MONTHS = {Interval.MONTH: 1, Interval.QUARTER: 3, Interval.YEAR: 12}
# How many of each interval make a (365-day) year, as (numerator, denominator).
_PER_YEAR = {
    Interval.MINUTE: (365 * 24 * 60, 1),
    Interval.HOUR: (365 * 24, 1),
    Interval.DAY: (365, 1),
    Interval.WEEK: (365, 7),
    Interval.MONTH: (12, 1),
    Interval.QUARTER: (4, 1),
    Interval.YEAR: (1, 1),
}


@dataclass(frozen=True, slots=True)
class Period:
    """The billing period [start, end) with its `index` (0 = first) since the subscription start.

    `full_start`/`full_end` bound the full-length period it belongs to: the same as start/end,
    except for a first calendar period that starts mid-unit (then `fraction` < 1).
    """

    start: datetime
    end: datetime
    index: int
    full_start: datetime
    full_end: datetime

    @property
    def seconds(self) -> Decimal:
        """The seconds in [start, end)."""
        return seconds_between(self.start, self.end)

    @property
    def fraction(self) -> Decimal:
        """The share of the full period this period covers: seconds / full seconds (≤ 1)."""
        whole = seconds_between(self.full_start, self.full_end)
        with localcontext(DIVISION):
            return self.seconds / whole


def add_interval(start: datetime, *, interval: str, count: int = 1) -> datetime:
    """`start` moved by `count` intervals (negative goes back); months keep and clamp the day."""
    start = _utc(start, name="start")
    interval = _interval(interval)
    count = _whole(count, name="count")
    try:
        if interval in _FIXED:
            return start + _FIXED[interval] * count
        months = start.year * 12 + start.month - 1 + _MONTHS[interval] * count
        year, month = divmod(months, 12)
        month += 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)
    except (OverflowError, ValueError):
        raise RatingError(
            f"{count} × {interval} from {start.isoformat()} is out of range."
        ) from None


def boundary(anchor_at: datetime, *, interval: str, interval_count: int, index: int) -> datetime:
    """The `index`-th period boundary from `anchor_at`: anchor_at + index × (interval × count)."""
    interval_count = _whole(interval_count, name="interval count", minimum=1)
    index = _whole(index, name="index")
    return add_interval(anchor_at, interval=interval, count=interval_count * index)


def calendar_floor(at: datetime, *, interval: str) -> datetime:
    """The start of the calendar unit holding `at`.

    minute and hour: :00; day: midnight UTC; week: Monday 00:00; month: the 1st; quarter:
    Jan/Apr/Jul/Oct 1st; year: Jan 1st.
    """
    at = _utc(at, name="at")
    interval = _interval(interval)
    if interval == Interval.MINUTE:
        return at.replace(second=0, microsecond=0)
    if interval == Interval.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == Interval.DAY:
        return midnight
    if interval == Interval.WEEK:
        return midnight - timedelta(days=midnight.weekday())
    if interval == Interval.MONTH:
        return midnight.replace(day=1)
    if interval == Interval.QUARTER:
        return midnight.replace(month=(at.month - 1) // 3 * 3 + 1, day=1)
    return midnight.replace(month=1, day=1)


def billing_period(
    *, started_at: datetime, anchor: str, interval: str, interval_count: int, index: int
) -> Period:
    """The `index`-th billing period (0 = first) of a subscription started at `started_at`.

    anniversary: boundaries counted from `started_at`. calendar: boundaries counted from the
    calendar floor of `started_at`, the first period running from `started_at` (prorated).
    """
    started_at = _utc(started_at, name="started_at")
    anchor = _anchor(anchor)
    index = _whole(index, name="index", minimum=0)
    origin = (
        started_at
        if anchor == Anchor.ANNIVERSARY
        else calendar_floor(started_at, interval=interval)
    )

    def edge(number: int) -> datetime:
        return boundary(origin, interval=interval, interval_count=interval_count, index=number)

    full_start, full_end = edge(index), edge(index + 1)
    start = started_at if index == 0 else full_start
    return Period(start=start, end=full_end, index=index, full_start=full_start, full_end=full_end)


def period_containing(
    *, started_at: datetime, anchor: str, interval: str, interval_count: int, at: datetime
) -> Period:
    """The billing period holding `at` (≥ started_at), found arithmetically, without walking."""
    return _period_containing(started_at, anchor, interval, interval_count, at)


# A cycle close asks for each subscription's period several times (its step, its slices, the
# next period); the answer depends on these five values only and a Period is immutable.
@lru_cache(maxsize=4096)
def _period_containing(
    started_at: datetime, anchor: str, interval: str, interval_count: int, at: datetime
) -> Period:
    started_at = _utc(started_at, name="started_at")
    at = _utc(at, name="at")
    anchor = _anchor(anchor)
    interval = _interval(interval)
    interval_count = _whole(interval_count, name="interval count", minimum=1)
    if at < started_at:
        raise RatingError(
            f"{at.isoformat()} is before the subscription started ({started_at.isoformat()})."
        )
    origin = (
        started_at
        if anchor == Anchor.ANNIVERSARY
        else calendar_floor(started_at, interval=interval)
    )
    if interval in _FIXED:
        index = (at - origin) // (_FIXED[interval] * interval_count)
    else:
        months = (at.year - origin.year) * 12 + at.month - origin.month
        index = months // (_MONTHS[interval] * interval_count)
        # Boundary `index` falls in `at`'s month or earlier, and the next one in a later month;
        # only a boundary in `at`'s own month can still be after `at` (a later day or time).
        if boundary(origin, interval=interval, interval_count=interval_count, index=index) > at:
            index -= 1
    return billing_period(
        started_at=started_at,
        anchor=anchor,
        interval=interval,
        interval_count=interval_count,
        index=index,
    )


def seconds_between(start: datetime, end: datetime) -> Decimal:
    """The exact seconds (microseconds included) from `start` to `end` (not before `start`)."""
    start = _utc(start, name="start")
    end = _utc(end, name="end")
    if end < start:
        raise RatingError(f"The end ({end.isoformat()}) is before the start ({start.isoformat()}).")
    elapsed = end - start
    with localcontext(EXACT):
        return (
            Decimal(elapsed.days * 86400 + elapsed.seconds) + Decimal(elapsed.microseconds) / 10**6
        )


def prorate(amount: Decimal, *, part_seconds: Decimal, whole_seconds: Decimal) -> Decimal:
    """`amount` × part_seconds / whole_seconds, unrounded (round it as a line with round_money)."""
    amount = to_decimal(amount)
    part_seconds = to_decimal(part_seconds)
    whole_seconds = to_decimal(whole_seconds)
    if whole_seconds <= 0:
        raise RatingError("The whole period must last more than 0 seconds.")
    if not 0 <= part_seconds <= whole_seconds:
        raise RatingError(
            f"The part ({part_seconds} s) must be between 0 and the whole ({whole_seconds} s)."
        )
    with localcontext(EXACT):
        numerator = amount * part_seconds
    with localcontext(DIVISION):
        return numerator / whole_seconds


def annualized(amount: Decimal, *, interval: str, interval_count: int) -> Decimal:
    """`amount` per (interval × count) as an amount per year: month × 12, week × 365/7, ..."""
    amount = to_decimal(amount)
    interval = _interval(interval)
    interval_count = _whole(interval_count, name="interval count", minimum=1)
    per_year, divisor = _PER_YEAR[interval]
    with localcontext(EXACT):
        numerator = amount * per_year
    with localcontext(DIVISION):
        return numerator / (divisor * interval_count)


def _utc(value: datetime, *, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise RatingError(f"{name} must be a datetime, not {value!r}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RatingError(f"{name} must be timezone-aware (UTC), not naive: {value.isoformat()}.")
    return value.astimezone(UTC)


def _interval(value: str) -> Interval:
    try:
        return Interval(value)
    except ValueError:
        choices = ", ".join(Interval)
        raise RatingError(f"Unknown interval {value!r}: choose one of {choices}.") from None


def _anchor(value: str) -> Anchor:
    try:
        return Anchor(value)
    except ValueError:
        choices = ", ".join(Anchor)
        raise RatingError(f"Unknown billing anchor {value!r}: choose one of {choices}.") from None


def _whole(value: int, *, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RatingError(f"The {name} must be a whole number, not {value!r}.")
    if minimum is not None and value < minimum:
        raise RatingError(f"The {name} must be at least {minimum}, not {value}.")
    return value
