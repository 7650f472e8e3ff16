"""The recognition arithmetic on its own (finance/recognition.py): days per month, cumulative
rounding that places remainder cents deterministically, folding closed months."""

from datetime import date
from decimal import Decimal

from finance.recognition import allocate, collapse_before, days_per_month, service_days
from tests.invoices.helpers import utc


def test_an_annual_fee_by_day_over_twelve_months_sums_to_the_fee():
    days = service_days(utc(2026, 1, 1), utc(2027, 1, 1))
    weights = days_per_month(days)
    assert days.count == 365
    assert [count for _, count in weights] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    months = allocate(Decimal("1200.00"), weights, exponent=2)
    # By hand: recognised by the end of month k = round(1200 × days so far / 365), half up;
    # Jan 1200×31/365 = 101.917… → 101.92; Feb 1200×59/365 = 193.972… → 193.97, so Feb gets
    # 92.05; Aug: 1200×243/365 = 798.904… → 798.90 less 696.99 (Jul) = 101.91.
    assert [amount for _, amount in months] == [
        Decimal(text)
        for text in (
            "101.92", "92.05", "101.92", "98.63", "101.92", "98.63",
            "101.92", "101.91", "98.63", "101.92", "98.63", "101.92",
        )
    ]  # fmt: skip
    assert sum(amount for _, amount in months) == Decimal("1200.00")
    assert months[0][0] == date(2026, 1, 1) and months[-1][0] == date(2026, 12, 1)


def test_an_anniversary_window_counts_its_start_day_not_its_end_day():
    days = service_days(utc(2026, 1, 15, 10, 30), utc(2026, 2, 15, 10, 30))
    assert (days.first, days.end, days.count) == (date(2026, 1, 15), date(2026, 2, 15), 31)
    assert days_per_month(days) == [(date(2026, 1, 1), 17), (date(2026, 2, 1), 14)]
    # 31.00 over 17 + 14 days: 17.00 and 14.00 exactly.
    assert allocate(Decimal("31.00"), days_per_month(days), exponent=2) == [
        (date(2026, 1, 1), Decimal("17.00")),
        (date(2026, 2, 1), Decimal("14.00")),
    ]


def test_a_window_inside_one_day_is_that_day():
    days = service_days(utc(2026, 3, 31, 22), utc(2026, 3, 31, 23))
    assert days_per_month(days) == [(date(2026, 3, 1), 1)]


def test_remainders_in_a_zero_decimal_currency_and_negative_amounts():
    weights = [(date(2026, 1, 1), 1), (date(2026, 2, 1), 1), (date(2026, 3, 1), 1)]
    # ¥100 over three equal months: 33.33 → 33, 66.67 → 67 (34), 100 (33).
    assert [a for _, a in allocate(Decimal("100"), weights, exponent=0)] == [33, 34, 33]
    credit = allocate(Decimal("-100"), weights, exponent=0)
    assert [a for _, a in credit] == [-33, -34, -33]


def test_closed_months_fold_into_the_reversal_month():
    weights = [(date(2026, m, 1), Decimal("100")) for m in (1, 2, 3, 4)]
    folded = collapse_before(weights, date(2026, 3, 1))
    assert folded == [(date(2026, 3, 1), Decimal("300")), (date(2026, 4, 1), Decimal("100"))]
    assert collapse_before(weights, date(2026, 6, 1)) == [(date(2026, 6, 1), Decimal("400"))]
