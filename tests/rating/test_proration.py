"""Seconds, proration and annualizing: the arithmetic behind prorated fees and plan comparisons."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rating import RatingError, annualized, prorate, round_money, seconds_between


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_seconds_between_is_exact_to_the_microsecond():
    assert seconds_between(utc(2024, 1, 1), utc(2024, 1, 2, 0, 0, 0, 500000)) == Decimal("86400.5")


def test_seconds_between_refuses_an_end_before_the_start():
    with pytest.raises(RatingError, match="before the start"):
        seconds_between(utc(2024, 1, 2), utc(2024, 1, 1))


def test_prorate_is_exact_until_rounded():
    prorated = prorate(
        Decimal("100.00"), part_seconds=Decimal(17 * 86400), whole_seconds=Decimal(31 * 86400)
    )

    assert prorated == Decimal("1700.00") / Decimal(31)
    assert round_money(prorated, exponent=2) == Decimal("54.84")


@pytest.mark.parametrize(
    ("part", "whole", "message"),
    [
        ("10", "0", "more than 0 seconds"),
        ("11", "10", "between 0 and the whole"),
        ("-1", "10", "between 0 and the whole"),
    ],
)
def test_prorate_refuses_impossible_shares(part, whole, message):
    with pytest.raises(RatingError, match=message):
        prorate(Decimal("1"), part_seconds=Decimal(part), whole_seconds=Decimal(whole))


@pytest.mark.parametrize(
    ("amount", "interval", "count", "expected"),
    [
        ("10", "month", 1, Decimal("120")),
        ("30", "month", 3, Decimal("120")),
        ("30", "quarter", 1, Decimal("120")),
        ("100", "year", 1, Decimal("100")),
        ("100", "year", 2, Decimal("50")),
        ("7", "week", 1, Decimal("365")),
        ("1", "week", 1, Decimal(365) / Decimal(7)),
        ("1", "day", 1, Decimal("365")),
        ("1", "hour", 1, Decimal("8760")),
        ("1", "minute", 1, Decimal("525600")),
    ],
)
def test_annualized(amount, interval, count, expected):
    assert annualized(Decimal(amount), interval=interval, interval_count=count) == expected


def test_annualized_tells_an_upgrade_from_a_downgrade():
    monthly = annualized(Decimal("49.00"), interval="month", interval_count=1)
    yearly = annualized(Decimal("490.00"), interval="year", interval_count=1)

    assert yearly < monthly
