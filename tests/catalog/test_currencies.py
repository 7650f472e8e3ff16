"""Currencies: ISO 4217 exponents, which codes are money, and money as text."""

from decimal import Decimal

import pytest

from catalog.currencies import (
    currency_exponent,
    format_money,
    is_known_currency,
    money_display,
    price_text,
)


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("JPY", 0),
        ("BHD", 3),
        ("KWD", 3),
        # Where CLDR's display digits (Babel) differ from ISO 4217's minor unit, ISO wins.
        ("IQD", 3),
        ("HUF", 2),
        ("COP", 2),
        ("LBP", 2),
        ("IRR", 2),
        ("ALL", 2),
        ("YER", 2),
        ("CLP", 0),
    ],
)
def test_exponent_is_the_iso_4217_minor_unit(code, exponent):
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "BHD", "CHF", "XOF"])
def test_real_currencies_are_known(code):
    assert is_known_currency(code)


@pytest.mark.parametrize(
    "code", ["XXX", "XTS", "XAU", "XAG", "XDR", "XBA", "XSU", "XUA", "ZZZ", "usd", ""]
)
def test_codes_that_are_not_money_are_refused(code):
    assert not is_known_currency(code)


def test_exponent_of_an_unknown_code_is_a_clear_error():
    with pytest.raises(ValueError, match="not a known currency"):
        currency_exponent("XXX")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1600"), "USD", "1600.00"),
        (Decimal("0.005"), "USD", "0.01"),
        (Decimal("0.0049"), "USD", "0.00"),
        (Decimal("1600"), "JPY", "1600"),
        (Decimal("1.5"), "JPY", "2"),
        (Decimal("1.2345"), "BHD", "1.235"),
        (Decimal("-0.001"), "USD", "0.00"),
    ],
)
def test_format_money_rounds_half_up_to_the_currency(amount, currency, text):
    assert format_money(amount, currency) == text


def test_money_display_is_for_people():
    assert money_display(Decimal("1600"), "USD") == "$1,600.00"
    assert money_display(Decimal("1600.4"), "JPY") == "¥1,600"
    assert money_display(Decimal("0.005"), "USD") == "$0.01"
    assert money_display(Decimal("1.2345"), "IQD").endswith("1.235")
    assert money_display(Decimal("1600.456"), "HUF").endswith("1,600.46")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("0.800000000000"), "USD", "0.80"),
        (Decimal("0.0012"), "USD", "0.0012"),
        (Decimal("1600.000000"), "JPY", "1600"),
        (Decimal("1E+3"), "USD", "1000.00"),
    ],
)
def test_price_text_keeps_every_entered_decimal(amount, currency, text):
    assert price_text(amount, currency) == text
