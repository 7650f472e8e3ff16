"""Billing periods: anchors, month clamping, calendar floors, proration and annualizing."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rating import (
    Period,
    RatingError,
    add_interval,
    billing_period,
    boundary,
    calendar_floor,
    period_containing,
    round_money,
    seconds_between,
)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_monthly_boundaries_from_jan_31_keep_and_clamp_the_day():
    anchor = utc(2023, 1, 31, 9, 30)

    edges = [boundary(anchor, interval="month", interval_count=1, index=i) for i in range(6)]

    assert edges == [
        utc(2023, 1, 31, 9, 30),
        utc(2023, 2, 28, 9, 30),
        utc(2023, 3, 31, 9, 30),
        utc(2023, 4, 30, 9, 30),
        utc(2023, 5, 31, 9, 30),
        utc(2023, 6, 30, 9, 30),
    ]


def test_monthly_from_jan_31_in_a_leap_year_lands_on_feb_29():
    assert boundary(utc(2024, 1, 31), interval="month", interval_count=1, index=1) == utc(
        2024, 2, 29
    )


def test_yearly_from_feb_29_clamps_then_returns_in_the_next_leap_year():
    anchor = utc(2024, 2, 29)

    edges = [boundary(anchor, interval="year", interval_count=1, index=i) for i in range(5)]

    assert edges == [
        utc(2024, 2, 29),
        utc(2025, 2, 28),
        utc(2026, 2, 28),
        utc(2027, 2, 28),
        utc(2028, 2, 29),
    ]


def test_quarterly_boundaries_clamp_and_recover():
    anchor = utc(2023, 11, 30)

    edges = [boundary(anchor, interval="quarter", interval_count=1, index=i) for i in range(3)]

    assert edges == [utc(2023, 11, 30), utc(2024, 2, 29), utc(2024, 5, 30)]


@pytest.mark.parametrize(
    ("interval", "count", "expected"),
    [
        ("minute", 1, utc(2024, 1, 31, 10, 31)),
        ("minute", 90, utc(2024, 1, 31, 12, 0)),
        ("hour", 1, utc(2024, 1, 31, 11, 30)),
        ("hour", 24, utc(2024, 2, 1, 10, 30)),
        ("day", 1, utc(2024, 2, 1, 10, 30)),
        ("week", 1, utc(2024, 2, 7, 10, 30)),
        ("week", 2, utc(2024, 2, 14, 10, 30)),
        ("month", 1, utc(2024, 2, 29, 10, 30)),
        ("month", 13, utc(2025, 2, 28, 10, 30)),
        ("month", -2, utc(2023, 11, 30, 10, 30)),
        ("quarter", 1, utc(2024, 4, 30, 10, 30)),
        ("year", 1, utc(2025, 1, 31, 10, 30)),
        ("day", 0, utc(2024, 1, 31, 10, 30)),
    ],
)
def test_add_interval(interval, count, expected):
    assert add_interval(utc(2024, 1, 31, 10, 30), interval=interval, count=count) == expected


def test_add_interval_returns_utc_for_an_aware_non_utc_start():
    paris_winter = timezone(timedelta(hours=1))

    moved = add_interval(datetime(2024, 3, 1, 0, 30, tzinfo=paris_winter), interval="day")

    assert moved == utc(2024, 2, 29, 23, 30) + timedelta(days=1)
    assert moved.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("minute", utc(2024, 5, 15, 13, 47)),
        ("hour", utc(2024, 5, 15, 13)),
        ("day", utc(2024, 5, 15)),
        ("week", utc(2024, 5, 13)),  # the Monday before Wednesday the 15th
        ("month", utc(2024, 5, 1)),
        ("quarter", utc(2024, 4, 1)),
        ("year", utc(2024, 1, 1)),
    ],
)
def test_calendar_floor(interval, expected):
    assert calendar_floor(utc(2024, 5, 15, 13, 47, 12, 500000), interval=interval) == expected


@pytest.mark.parametrize(
    ("at", "monday"),
    [
        (utc(2024, 5, 19, 23, 59), utc(2024, 5, 13)),  # Sunday
        (utc(2024, 5, 20, 0, 0), utc(2024, 5, 20)),  # Monday midnight is its own floor
        (utc(2024, 1, 3), utc(2024, 1, 1)),
        (utc(2023, 1, 1, 12), utc(2022, 12, 26)),  # a Sunday: the week began last year
    ],
)
def test_week_calendar_floor_is_monday_midnight(at, monday):
    assert calendar_floor(at, interval="week") == monday


@pytest.mark.parametrize(
    ("month", "quarter_start"),
    [(1, 1), (3, 1), (4, 4), (6, 4), (7, 7), (9, 7), (10, 10), (12, 10)],
)
def test_quarter_calendar_floor(month, quarter_start):
    assert calendar_floor(utc(2024, month, 20), interval="quarter") == utc(2024, quarter_start, 1)


def test_calendar_monthly_started_mid_month_is_prorated_over_the_month():
    period = billing_period(
        started_at=utc(2024, 3, 15), anchor="calendar", interval="month", interval_count=1, index=0
    )

    assert period == Period(
        start=utc(2024, 3, 15),
        end=utc(2024, 4, 1),
        index=0,
        full_start=utc(2024, 3, 1),
        full_end=utc(2024, 4, 1),
    )
    assert period.fraction == Decimal(17) / Decimal(31)
    assert period.seconds == Decimal(17 * 86400)
    assert round_money(Decimal("31.00") * period.fraction, exponent=2) == Decimal("17.00")


def test_calendar_periods_after_the_first_are_whole_months():
    period = billing_period(
        started_at=utc(2024, 3, 15), anchor="calendar", interval="month", interval_count=1, index=1
    )

    assert (period.start, period.end, period.fraction) == (utc(2024, 4, 1), utc(2024, 5, 1), 1)


def test_calendar_started_exactly_on_the_floor_has_a_full_first_period():
    period = billing_period(
        started_at=utc(2024, 4, 1), anchor="calendar", interval="month", interval_count=1, index=0
    )

    assert (period.start, period.end, period.full_start, period.fraction) == (
        utc(2024, 4, 1),
        utc(2024, 5, 1),
        utc(2024, 4, 1),
        1,
    )


def test_calendar_weekly_first_period_runs_to_monday():
    period = billing_period(
        started_at=utc(2024, 5, 15), anchor="calendar", interval="week", interval_count=1, index=0
    )

    assert (period.start, period.end, period.full_start) == (
        utc(2024, 5, 15),
        utc(2024, 5, 20),
        utc(2024, 5, 13),
    )
    assert period.fraction == Decimal(5) / Decimal(7)


def test_calendar_yearly_first_period():
    period = billing_period(
        started_at=utc(2024, 7, 1), anchor="calendar", interval="year", interval_count=1, index=0
    )

    assert (period.start, period.end, period.full_start) == (
        utc(2024, 7, 1),
        utc(2025, 1, 1),
        utc(2024, 1, 1),
    )
    assert period.fraction == Decimal(184) / Decimal(366)


def test_anniversary_periods_follow_the_start_and_clamp():
    periods = [
        billing_period(
            started_at=utc(2024, 1, 31, 12),
            anchor="anniversary",
            interval="month",
            interval_count=1,
            index=i,
        )
        for i in range(3)
    ]

    assert [(p.start, p.end) for p in periods] == [
        (utc(2024, 1, 31, 12), utc(2024, 2, 29, 12)),
        (utc(2024, 2, 29, 12), utc(2024, 3, 31, 12)),
        (utc(2024, 3, 31, 12), utc(2024, 4, 30, 12)),
    ]
    assert all(p.fraction == 1 and p.full_start == p.start for p in periods)


def test_interval_count_multiplies_the_interval():
    period = billing_period(
        started_at=utc(2024, 1, 1),
        anchor="anniversary",
        interval="minute",
        interval_count=5,
        index=3,
    )

    assert (period.start, period.end) == (utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 20))


@pytest.mark.parametrize(
    ("at", "index", "start", "end"),
    [
        (utc(2024, 1, 31, 12), 0, utc(2024, 1, 31, 12), utc(2024, 2, 29, 12)),
        (utc(2024, 2, 29, 11, 59), 0, utc(2024, 1, 31, 12), utc(2024, 2, 29, 12)),
        (utc(2024, 2, 29, 12), 1, utc(2024, 2, 29, 12), utc(2024, 3, 31, 12)),  # [start, end)
        (utc(2024, 3, 31, 11), 1, utc(2024, 2, 29, 12), utc(2024, 3, 31, 12)),
        (utc(2024, 3, 31, 12), 2, utc(2024, 3, 31, 12), utc(2024, 4, 30, 12)),
        (utc(2034, 2, 28, 12), 121, utc(2034, 2, 28, 12), utc(2034, 3, 31, 12)),
    ],
)
def test_period_containing_monthly_anniversary(at, index, start, end):
    period = period_containing(
        started_at=utc(2024, 1, 31, 12),
        anchor="anniversary",
        interval="month",
        interval_count=1,
        at=at,
    )

    assert (period.index, period.start, period.end) == (index, start, end)


def test_period_containing_calendar_first_partial_period():
    period = period_containing(
        started_at=utc(2024, 3, 15),
        anchor="calendar",
        interval="month",
        interval_count=1,
        at=utc(2024, 3, 20),
    )

    assert (period.index, period.start, period.end) == (0, utc(2024, 3, 15), utc(2024, 4, 1))


def test_period_containing_calendar_quarterly_later():
    period = period_containing(
        started_at=utc(2024, 2, 10),
        anchor="calendar",
        interval="quarter",
        interval_count=1,
        at=utc(2025, 8, 15),
    )

    assert (period.index, period.start, period.end) == (6, utc(2025, 7, 1), utc(2025, 10, 1))


def test_period_containing_far_in_the_future_for_minute_periods():
    # A century of one-minute periods: 52,594,560 of them, found without walking.
    period = period_containing(
        started_at=utc(2024, 1, 1, 0, 0, 30),
        anchor="anniversary",
        interval="minute",
        interval_count=1,
        at=utc(2124, 1, 1, 0, 0, 45),
    )

    assert (period.start, period.end) == (utc(2124, 1, 1, 0, 0, 30), utc(2124, 1, 1, 0, 1, 30))
    assert period.index == 36524 * 24 * 60  # 100 years, 24 leap days (2100 is not leap)


def test_period_containing_far_in_the_future_for_calendar_hours():
    period = period_containing(
        started_at=utc(2024, 1, 1, 0, 20),
        anchor="calendar",
        interval="hour",
        interval_count=2,
        at=utc(2054, 6, 1, 3, 59),
    )

    assert (period.start, period.end) == (utc(2054, 6, 1, 2), utc(2054, 6, 1, 4))


def test_period_containing_refuses_a_moment_before_the_start():
    with pytest.raises(RatingError, match="before the subscription started"):
        period_containing(
            started_at=utc(2024, 3, 15),
            anchor="anniversary",
            interval="month",
            interval_count=1,
            at=utc(2024, 3, 14),
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda: add_interval(datetime(2024, 1, 1), interval="day"),
        lambda: calendar_floor(datetime(2024, 1, 1), interval="day"),
        lambda: seconds_between(datetime(2024, 1, 1), utc(2024, 1, 2)),
        lambda: billing_period(
            started_at=datetime(2024, 1, 1),
            anchor="calendar",
            interval="month",
            interval_count=1,
            index=0,
        ),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(RatingError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_interval(utc(2024, 1, 1), interval="fortnight"), "Unknown interval"),
        (
            lambda: billing_period(
                started_at=utc(2024, 1, 1),
                anchor="monthly",
                interval="month",
                interval_count=1,
                index=0,
            ),
            "Unknown billing anchor",
        ),
        (
            lambda: boundary(utc(2024, 1, 1), interval="month", interval_count=0, index=1),
            "interval count must be at least 1",
        ),
        (
            lambda: billing_period(
                started_at=utc(2024, 1, 1),
                anchor="calendar",
                interval="month",
                interval_count=1,
                index=-1,
            ),
            "index must be at least 0",
        ),
        (lambda: add_interval(utc(9999, 12, 1), interval="month"), "out of range"),
    ],
)
def test_bad_period_arguments_are_refused(call, message):
    with pytest.raises(RatingError, match=message):
        call()
