"""What rating returns: an exact amount and the breakdown lines a person reads on the invoice."""

from dataclasses import dataclass
from decimal import Decimal

from rating.money import decimal_string


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else decimal_string(value)


@dataclass(frozen=True, slots=True)
class BreakdownLine:
    """One readable row of a rating ("1 – 1000 @ 0.80"): `amount` = units × unit_amount + flat.

    `from_unit`/`up_to` are the band's bounds when the row is a band of a tiered charge: the band
    holds the units above the previous tier's up_to, through `up_to` (None: no upper bound);
    `from_unit` is its first unit as a person counts them (previous up_to + 1, or 1 for the first
    band) when the bounds are whole numbers, and the previous up_to itself when it is fractional.
    """

    label: str
    units: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal
    from_unit: Decimal | None = None
    up_to: Decimal | None = None

    def as_dict(self) -> dict:
        """The row with every number as a plain decimal string, ready for JSON."""
        return {
            "label": self.label,
            "units": decimal_string(self.units),
            "unit_amount": decimal_string(self.unit_amount),
            "flat_amount": decimal_string(self.flat_amount),
            "amount": decimal_string(self.amount),
            "from_unit": _plain(self.from_unit),
            "up_to": _plain(self.up_to),
        }


@dataclass(frozen=True, slots=True)
class Rating:
    """A quantity priced by a charge: `amount` is exact (round it per line with round_money).

    `free_units` is the part of the allowance actually used; `billable_quantity` is what was
    priced; the breakdown's amounts add up to `amount`, minimum top-up and cap included.
    """

    quantity: Decimal
    free_units: Decimal
    billable_quantity: Decimal
    amount: Decimal
    breakdown: tuple[BreakdownLine, ...]

    def as_dict(self) -> dict:
        """The rating with every number as a plain decimal string ("1600", "0.8"), for JSON."""
        return {
            "quantity": decimal_string(self.quantity),
            "free_units": decimal_string(self.free_units),
            "billable_quantity": decimal_string(self.billable_quantity),
            "amount": decimal_string(self.amount),
            "breakdown": [line.as_dict() for line in self.breakdown],
        }
