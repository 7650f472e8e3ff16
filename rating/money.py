"""Exact money arithmetic: inputs to Decimal, half-up rounding, printing without exponents.

Rating imports nothing but the stdlib, so the currency exponent (ISO 4217 minor unit: USD 2,
JPY 0, BHD 3) is looked up by the caller and passed in.
"""

from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

from rating.errors import RatingError

# Wide enough that sums and products of stored amounts (24 digits) and quantities stay exact, and
# that a division (proration, a fraction of a period) keeps far more digits than any currency.
EXACT = Context(prec=80, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
# For the divisions that cannot be exact (17/31 of a period, 365/7 weeks a year): 28 significant
# digits, the same as Python's default context, so `Decimal(17) / Decimal(31)` written in a
# caller's test compares equal.
DIVISION = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """The finite Decimal for a Decimal, an int or a numeric string; floats and bools are refused.

    A float already lost its exact value (0.1 is 0.1000000000000000055...), so it never becomes
    money here.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise RatingError(
            f"{value!r} is a {type(value).__name__}; give an exact number as a Decimal, "
            'an int or a string such as "0.80".'
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise RatingError(f"{value!r} is not a number.") from None
    else:
        raise RatingError(f"{value!r} is not a number.")
    if not result.is_finite():
        raise RatingError(f"{value!r} is not a finite number.")
    return result


def round_money(amount: Decimal, *, exponent: int) -> Decimal:
    """`amount` rounded half-up (0.005 → 0.01) to 10**-exponent: USD 2, JPY 0, BHD 3."""
    if isinstance(exponent, bool) or not isinstance(exponent, int) or exponent < 0:
        raise RatingError(f"The currency exponent must be a whole number ≥ 0, not {exponent!r}.")
    amount = to_decimal(amount)
    rounded = amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP, context=EXACT)
    # -0.001 rounds to -0.00: a zero is shown without a sign.
    return rounded.copy_abs() if rounded.is_zero() else rounded


def decimal_string(value: Decimal) -> str:
    """`value` as plain digits without exponent or trailing zeros: 1.6E+3 → "1600", 0.80 → "0.8"."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def price_string(value: Decimal) -> str:
    """`value` for a label, with at least two decimals: 0.8 → "0.80", 0.000002 stays "0.000002"."""
    text = decimal_string(value)
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
