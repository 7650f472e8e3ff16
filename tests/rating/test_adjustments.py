"""Discount spreading and per-rate tax (rating.adjustments): exact to the minor unit."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating.adjustments import percentage_of, spread_pro_rata

D = Decimal


@pytest.mark.parametrize(
    ("amount", "weights", "exponent", "shares"),
    [
        (D("20.55"), [D("100.00"), D("37.00")], 2, [D("15.00"), D("5.55")]),
        # 10.00 over three equal lines: 3.33 each, the extra cent to the first (a tie).
        (D("10.00"), [D("5.00"), D("5.00"), D("5.00")], 2, [D("3.34"), D("3.33"), D("3.33")]),
        # Negative lines (a proration credit) take no share.
        (D("6.00"), [D("10.00"), D("-4.00"), D("2.00")], 2, [D("5.00"), D("0.00"), D("1.00")]),
        (D("100"), [D("1"), D("2")], 0, [D("33"), D("67")]),
        (D("0.00"), [D("1.00")], 2, [D("0")]),
        (D("1.00"), [D("0.00")], 2, [D("0")]),
    ],
)
def test_spread_examples(amount, weights, exponent, shares):
    assert spread_pro_rata(amount, weights, exponent=exponent) == shares


@pytest.mark.parametrize(
    ("amount", "percentage", "expected"),
    [
        (D("116.45"), D("6.25"), D("7.28")),
        (D("116.45"), D("4.5"), D("5.24")),
        (D("0.10"), D("5"), D("0.01")),
    ],
)
def test_percentage_of_rounds_half_up(amount, percentage, expected):
    assert percentage_of(amount, percentage, exponent=2) == expected


cents = st.integers(min_value=-10_000, max_value=1_000_000).map(lambda n: Decimal(n) / 100)


@given(weights=st.lists(cents, min_size=1, max_size=12), fraction=st.integers(0, 100))
def test_shares_add_up_exactly_and_never_exceed_their_line(weights, fraction):
    positive = sum((w for w in weights if w > 0), Decimal(0))
    amount = (positive * fraction / 100).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    shares = spread_pro_rata(amount, weights, exponent=2)
    assert sum(shares, Decimal(0)) == (amount if positive > 0 else 0)
    for weight, share in zip(weights, shares, strict=True):
        assert Decimal(0) <= share <= max(weight, Decimal(0))
