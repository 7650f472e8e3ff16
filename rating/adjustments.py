"""Discounts and taxes on an invoice's rounded lines: pro rata spreading and per-rate tax.

Pure (docs/architecture.md, "Money"): a discount is spread over the positive lines in proportion
to their amounts, each share rounded down to the minor unit and the remainder units given one
each to the lines with the largest rounded-off fractions (ties: the earlier line), so the shares
add up to the discount exactly and the same invoice always gets the same split. Tax is
round_half_up(taxable × rate / 100) per rate.
"""

from decimal import ROUND_DOWN, Decimal, localcontext

from rating.money import DIVISION, round_money

ZERO = Decimal("0")
HUNDRED = Decimal("100")


def spread_pro_rata(amount: Decimal, weights: list[Decimal], *, exponent: int) -> list[Decimal]:
    """`amount` split over `weights` (only the positive ones share) to 10**-exponent exactly."""
    unit = Decimal(1).scaleb(-exponent)
    positive = [max(weight, ZERO) for weight in weights]
    whole = sum(positive, ZERO)
    if amount == ZERO or whole == ZERO:
        return [ZERO for _ in weights]
    shares, fractions = [], []
    with localcontext(DIVISION):
        for index, weight in enumerate(positive):
            exact = amount * weight / whole
            share = exact.quantize(unit, rounding=ROUND_DOWN)
            shares.append(share)
            fractions.append((exact - share, -index))
    left = int(((amount - sum(shares, ZERO)) / unit).to_integral_value())
    for _, negative_index in sorted(fractions, reverse=True)[:left]:
        shares[-negative_index] += unit
    return shares


def percentage_of(amount: Decimal, percentage: Decimal, *, exponent: int) -> Decimal:
    """`percentage` % of `amount`, rounded half-up to the minor unit."""
    return round_money(amount * percentage / HUNDRED, exponent=exponent)
