"""Amounts go to Stripe in Stripe's minor units, whose lists differ from ISO 4217."""

from decimal import Decimal

import pytest

from payments.stripe_units import from_stripe_amount, to_stripe_amount


@pytest.mark.parametrize(
    ("amount", "currency", "sent"),
    [
        ("12.34", "USD", 1234),
        ("1500", "JPY", 1500),  # zero-decimal: whole yen
        ("1500.4", "JPY", 1500),
        ("5.124", "KWD", 5120),  # three-decimal: thousandths rounded to a multiple of ten
        ("5.125", "KWD", 5130),
        ("0.995", "BHD", 1000),
        ("1.235", "IQD", 124),  # three decimals in ISO, two at Stripe
        ("5", "ISK", 500),  # zero-decimal, sent with two decimals
        ("0.01", "EUR", 1),
    ],
)
def test_to_stripe_amount(amount, currency, sent):
    assert to_stripe_amount(Decimal(amount), currency) == sent


@pytest.mark.parametrize(
    ("value", "currency", "amount"),
    [(1234, "USD", "12.34"), (1500, "JPY", "1500"), (5130, "KWD", "5.13"), (500, "ISK", "5")],
)
def test_from_stripe_amount(value, currency, amount):
    assert from_stripe_amount(value, currency) == Decimal(amount)
