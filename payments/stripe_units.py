"""Amounts as Stripe wants them: integers in Stripe's own minor unit of the currency.

Stripe's lists differ from ISO 4217 (catalog.currencies): per Stripe's "Supported currencies"
page, zero-decimal currencies are sent as whole units, three-decimal currencies (BHD, JOD, KWD,
OMR, TND) in thousandths rounded to a multiple of ten, ISK in hundredths of whole krónur, and
every other currency in hundredths (so an IQD amount, three decimals in ISO, goes as two).
"""

from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
# Zero-decimal, but sent with two decimals for backwards compatibility (whole krónur only).
WHOLE_UNITS_IN_HUNDREDTHS = frozenset({"ISK"})


def to_stripe_amount(amount: Decimal, currency: str) -> int:
    """`amount` (Decimal, in major units) as Stripe's integer, rounded half-up where Stripe's
    unit is coarser than ours: JPY 1500 → 1500, USD 12.34 → 1234, KWD 5.125 → 5130."""
    currency = currency.upper()
    if currency in ZERO_DECIMAL:
        return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    if currency in THREE_DECIMAL:
        # Stripe requires the last digit to be 0: round to the nearest ten thousandths.
        tens = (amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        return int(tens) * 10
    if currency in WHOLE_UNITS_IN_HUNDREDTHS:
        return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP)) * 100
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_stripe_amount(value: int, currency: str) -> Decimal:
    """Stripe's integer back to a Decimal in major units: 1234 USD → 12.34, 500 JPY → 500."""
    currency = currency.upper()
    if currency in ZERO_DECIMAL:
        return Decimal(value)
    if currency in THREE_DECIMAL:
        return Decimal(value) / Decimal(1000)
    return Decimal(value) / Decimal(100)
