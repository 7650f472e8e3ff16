"""Money rounding (half-up, per currency exponent) and exact Decimal input."""

from decimal import Decimal

import pytest

from rating import ChargeSpec, RatingError, decimal_string, rate, round_money, to_decimal


@pytest.mark.parametrize(
    ("amount", "exponent", "expected"),
    [
        ("0.005", 2, "0.01"),  # half-up, not banker's rounding
        ("0.015", 2, "0.02"),
        ("0.025", 2, "0.03"),
        ("0.0049999", 2, "0.00"),
        ("-0.005", 2, "-0.01"),
        ("-0.001", 2, "0.00"),
        ("1600", 2, "1600.00"),
        ("2.5", 0, "3"),  # JPY
        ("1234.4999", 0, "1234"),  # JPY
        ("0.0035", 3, "0.004"),  # BHD
        ("12.3455", 3, "12.346"),  # BHD
    ],
)
def test_round_money_half_up_to_the_currency_exponent(amount, exponent, expected):
    rounded = round_money(Decimal(amount), exponent=exponent)

    assert rounded == Decimal(expected)
    assert str(rounded) == expected


def test_jpy_charge_rounds_to_whole_yen():
    spec = ChargeSpec(model="per_unit", unit_amount=Decimal("0.5"))

    assert str(round_money(rate(spec, Decimal("3")).amount, exponent=0)) == "2"


def test_bhd_charge_rounds_to_fils():
    spec = ChargeSpec(model="per_unit", unit_amount=Decimal("0.0005"))

    assert str(round_money(rate(spec, Decimal("7")).amount, exponent=3)) == "0.004"


def test_round_money_refuses_a_negative_exponent():
    with pytest.raises(RatingError, match="exponent"):
        round_money(Decimal("1"), exponent=-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("0.80"), Decimal("0.80")), (7, Decimal("7")), (" 12.5 ", Decimal("12.5"))],
)
def test_to_decimal_accepts_exact_numbers(value, expected):
    assert to_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.1, "float"),
        (True, "bool"),
        ("abc", "not a number"),
        ("NaN", "not a finite number"),
        (Decimal("Infinity"), "not a finite number"),
        (None, "not a number"),
    ],
)
def test_to_decimal_refuses_what_is_not_an_exact_number(value, message):
    with pytest.raises(RatingError, match=message):
        to_decimal(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.6E+3"), "1600"),
        (Decimal("0.80"), "0.8"),
        (Decimal("0.000"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("1E-12"), "0.000000000001"),
        (Decimal("-2.50"), "-2.5"),
    ],
)
def test_decimal_string_has_no_exponent_and_no_trailing_zeros(value, expected):
    assert decimal_string(value) == expected
