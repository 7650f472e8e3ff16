"""Small helpers for the customers tests: UTC moments, period walks, readable fractions."""

from datetime import UTC, datetime
from fractions import Fraction

from customers.selectors import subscription_phases_for_period
from customers.services import subscription_advance_period


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def walk_periods(subscription, *, count: int, at: datetime) -> list[tuple[datetime, datetime]]:
    """The current period and the next ones, advancing as the cycle close would."""
    periods = []
    for _ in range(count):
        periods.append((subscription.current_period_start, subscription.current_period_end))
        subscription_advance_period(subscription=subscription, at=at)
    return periods


def slices(
    subscription, start: datetime, end: datetime
) -> list[tuple[str, datetime, datetime, Fraction]]:
    """(plan code, start, end, fraction as a small exact fraction) of each phase in a period."""
    return [
        (piece.plan.code, piece.start, piece.end, Fraction(piece.fraction).limit_denominator(10**6))
        for piece in subscription_phases_for_period(
            subscription=subscription, period_start=start, period_end=end
        )
    ]
