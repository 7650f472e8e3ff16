"""Billing-period sequences of subscriptions, for every interval and both anchors.

A subscription's current period is the first one not billed yet; advancing it (as the cycle
close does after billing) walks the sequence below.
"""

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from customers.selectors import (
    subscription_current_period,
    subscription_period_for,
    subscription_phases_for_period,
    subscriptions_due,
)
from tests.customers.helpers import slices, utc, walk_periods
from tests.factories import PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

FAR_LATER = utc(2031, 1, 1)

ANNIVERSARY = [
    pytest.param(
        "minute",
        1,
        utc(2026, 1, 31, 10, 0, 30),
        [utc(2026, 1, 31, 10, 1, 30), utc(2026, 1, 31, 10, 2, 30), utc(2026, 1, 31, 10, 3, 30)],
        id="minute",
    ),
    pytest.param(
        "hour",
        1,
        utc(2026, 1, 31, 23, 30),
        [utc(2026, 2, 1, 0, 30), utc(2026, 2, 1, 1, 30), utc(2026, 2, 1, 2, 30)],
        id="hour",
    ),
    pytest.param(
        "day",
        1,
        utc(2026, 1, 31, 10),
        [utc(2026, 2, 1, 10), utc(2026, 2, 2, 10), utc(2026, 2, 3, 10)],
        id="day",
    ),
    pytest.param(
        "week",
        1,
        utc(2026, 1, 28, 9),  # a Wednesday
        [utc(2026, 2, 4, 9), utc(2026, 2, 11, 9), utc(2026, 2, 18, 9)],
        id="week",
    ),
    pytest.param(
        "month",
        1,
        utc(2026, 1, 31),
        [utc(2026, 2, 28), utc(2026, 3, 31), utc(2026, 4, 30), utc(2026, 5, 31)],
        id="month-jan-31-clamps-and-returns",
    ),
    pytest.param(
        "month",
        2,
        utc(2026, 1, 31),
        [utc(2026, 3, 31), utc(2026, 5, 31), utc(2026, 7, 31)],
        id="every-2-months",
    ),
    pytest.param(
        "quarter",
        1,
        utc(2025, 11, 30),
        [utc(2026, 2, 28), utc(2026, 5, 30), utc(2026, 8, 30)],
        id="quarter",
    ),
    pytest.param(
        "year",
        1,
        utc(2024, 2, 29),
        [utc(2025, 2, 28), utc(2026, 2, 28), utc(2027, 2, 28), utc(2028, 2, 29)],
        id="year-from-feb-29",
    ),
]


@pytest.mark.parametrize(("interval", "count", "started_at", "ends"), ANNIVERSARY)
def test_anniversary_periods_keep_the_start_moment(interval, count, started_at, ends):
    plan = PlanFactory(interval=interval, interval_count=count)
    subscription = SubscriptionFactory(plan=plan, started_at=started_at, at=started_at)

    periods = walk_periods(subscription, count=len(ends), at=FAR_LATER)

    starts = [started_at, *ends[:-1]]
    assert periods == list(zip(starts, ends, strict=True))
    first = slices(subscription, *periods[0])
    assert first == [(plan.code, started_at, ends[0], Fraction(1))]


CALENDAR = [
    pytest.param(
        "minute",
        utc(2026, 3, 15, 10, 0, 15),
        [utc(2026, 3, 15, 10, 1), utc(2026, 3, 15, 10, 2)],
        Fraction(45, 60),
        id="minute",
    ),
    pytest.param(
        "hour",
        utc(2026, 3, 15, 10, 15),
        [utc(2026, 3, 15, 11), utc(2026, 3, 15, 12)],
        Fraction(3, 4),
        id="hour",
    ),
    pytest.param(
        "day",
        utc(2026, 3, 15, 6),
        [utc(2026, 3, 16), utc(2026, 3, 17)],
        Fraction(18, 24),
        id="day",
    ),
    pytest.param(
        "week",
        utc(2026, 1, 28),  # a Wednesday: weeks start on Monday
        [utc(2026, 2, 2), utc(2026, 2, 9)],
        Fraction(5, 7),
        id="week",
    ),
    pytest.param(
        "month",
        utc(2026, 3, 15),
        [utc(2026, 4, 1), utc(2026, 5, 1), utc(2026, 6, 1)],
        Fraction(17, 31),
        id="month-mar-15",
    ),
    pytest.param(
        "quarter",
        utc(2026, 2, 15),
        [utc(2026, 4, 1), utc(2026, 7, 1)],
        Fraction(45, 90),
        id="quarter",
    ),
    pytest.param(
        "year",
        utc(2024, 2, 29),
        [utc(2025, 1, 1), utc(2026, 1, 1)],
        Fraction(307, 366),
        id="year-from-feb-29",
    ),
]


@pytest.mark.parametrize(("interval", "started_at", "ends", "first_fraction"), CALENDAR)
def test_calendar_periods_prorate_the_first_and_align_the_rest(
    interval, started_at, ends, first_fraction
):
    plan = PlanFactory(interval=interval)
    subscription = SubscriptionFactory(
        plan=plan, started_at=started_at, anchor="calendar", at=started_at
    )

    periods = walk_periods(subscription, count=len(ends), at=FAR_LATER)

    assert periods == list(zip([started_at, *ends[:-1]], ends, strict=True))
    assert slices(subscription, *periods[0]) == [(plan.code, started_at, ends[0], first_fraction)]
    assert slices(subscription, *periods[1]) == [(plan.code, ends[0], ends[1], Fraction(1))]


def test_calendar_month_started_mar_15_is_17_31_of_march():
    plan = PlanFactory(interval="month")
    subscription = SubscriptionFactory(
        plan=plan, started_at=utc(2026, 3, 15), anchor="calendar", at=utc(2026, 3, 15)
    )

    period = subscription_current_period(subscription=subscription)
    assert (period.start, period.end) == (utc(2026, 3, 15), utc(2026, 4, 1))
    assert (period.full_start, period.full_end) == (utc(2026, 3, 1), utc(2026, 4, 1))
    assert period.fraction == Decimal(17) / Decimal(31)
    [piece] = subscription_phases_for_period(
        subscription=subscription, period_start=period.start, period_end=period.end
    )
    assert piece.plan == plan
    assert piece.fraction == Decimal(17) / Decimal(31)
    assert piece.reason == "start"


def test_started_two_months_back_the_first_period_is_current_and_due():
    now = utc(2026, 5, 20, 12)
    subscription = SubscriptionFactory(
        plan=PlanFactory(interval="month"), started_at=utc(2026, 3, 20, 12), at=now
    )

    assert subscription.status == "active"
    assert (subscription.current_period_start, subscription.current_period_end) == (
        utc(2026, 3, 20, 12),
        utc(2026, 4, 20, 12),
    )
    assert list(subscriptions_due(at=now)) == [subscription]
    # The cycle close bills a period and advances until the current period ends after now.
    periods = walk_periods(subscription, count=2, at=now)
    assert periods[1] == (utc(2026, 4, 20, 12), utc(2026, 5, 20, 12))
    assert subscription.current_period_end == utc(2026, 6, 20, 12)
    assert list(subscriptions_due(at=now)) == []


def test_period_for_a_start_gives_the_full_bounds_and_a_later_period():
    subscription = SubscriptionFactory(
        plan=PlanFactory(interval="month"),
        started_at=utc(2026, 3, 15),
        anchor="calendar",
        at=utc(2026, 3, 15),
    )

    later = subscription_period_for(subscription=subscription, period_start=utc(2026, 6, 1))
    assert (later.start, later.end, later.full_start, later.full_end) == (
        utc(2026, 6, 1),
        utc(2026, 7, 1),
        utc(2026, 6, 1),
        utc(2026, 7, 1),
    )
    with pytest.raises(ValueError, match="no billing period"):
        subscription_period_for(subscription=subscription, period_start=utc(2026, 3, 1))


def test_due_lists_periods_that_ended_at_or_before_the_moment():
    started = utc(2026, 1, 1)
    due = SubscriptionFactory(plan=PlanFactory(interval="day"), started_at=started, at=started)
    SubscriptionFactory(plan=PlanFactory(interval="week"), started_at=started, at=started)

    assert list(subscriptions_due(at=started + timedelta(hours=23))) == []
    assert list(subscriptions_due(at=started + timedelta(days=1))) == [due]
