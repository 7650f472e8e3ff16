"""The pricing models of docs/api.md, "Plans": a quantity in, an exact amount and its breakdown out.

Each model is one short function from (spec, billable quantity) to breakdown lines; `rate` takes
free units off first and applies the minimum commitment and the cap after; `allowances_share`
gives a slice of a period its share of the free units, minimum and cap.
"""

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, localcontext

from rating.charges import ChargeSpec, PricingModel, Tier
from rating.errors import ChargeSpecError, RatingError
from rating.money import EXACT, decimal_string, price_string, to_decimal
from rating.results import BreakdownLine, Rating
from rating.validation import validate_charge

__all__ = [
    "BreakdownLine",
    "ChargeSpec",
    "ChargeSpecError",
    "PRICERS",
    "PricingModel",
    "Rating",
    "RatingError",
    "Tier",
    "allowances_share",
    "breakdown_difference",
    "rate",
    "validate_charge",
    "without_minimum",
]

ZERO = Decimal("0")

Lines = tuple[BreakdownLine, ...]


def price_flat(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """A flat charge costs its `amount` when any usage was recorded, and nothing otherwise."""
    if quantity == 0:
        return ()
    return (_line("Flat fee", units=quantity, flat_amount=spec.amount),)


def price_per_unit(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """A per-unit charge costs quantity × `unit_amount`."""
    if quantity == 0:
        return ()
    label = f"Per unit @ {price_string(spec.unit_amount)}"
    return (_line(label, units=quantity, unit_amount=spec.unit_amount),)


def price_package(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """A package charge costs `package_amount` for every package started: ceil(Q / size)."""
    if quantity == 0:
        return ()
    whole_packages, remainder = divmod(quantity, spec.package_size)
    packages = whole_packages + (1 if remainder else 0)
    label = f"Packages of {decimal_string(spec.package_size)} @ {price_string(spec.package_amount)}"
    return (_line(label, units=packages, unit_amount=spec.package_amount),)


def price_graduated(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """Each band prices the units in it at its own rate, plus its flat amount once reached."""
    lines = []
    for start, tier in _bands(spec.tiers):
        if quantity <= start:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        label = _band_label(start, tier.up_to) + _rate_label(tier)
        lines.append(_band_line(label, start=start, tier=tier, units=top - start))
    return tuple(lines)


def price_volume(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """The band the whole quantity falls into prices all of it: Q × its rate + its flat amount."""
    if quantity == 0:
        return ()
    for start, tier in _bands(spec.tiers):
        if tier.up_to is None or quantity <= tier.up_to:
            label = _band_label(start, tier.up_to) + _rate_label(tier) + ", on all units"
            return (_band_line(label, start=start, tier=tier, units=quantity),)
    raise AssertionError("validate_charge guarantees an unbounded last tier")


def price_stairstep(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """Each band the quantity reaches adds its flat amount: the steps stack."""
    lines = []
    for start, tier in _bands(spec.tiers):
        if quantity <= start:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        label = f"{_band_label(start, tier.up_to)}: step of {price_string(tier.flat_amount)}"
        lines.append(_band_line(label, start=start, tier=tier, units=top - start))
    return tuple(lines)


def price_percentage(spec: ChargeSpec, quantity: Decimal, *, event_count: int) -> Lines:
    """A percentage charge costs `rate`% of the summed amount plus `fixed_amount` per event."""
    lines = []
    if quantity > 0:
        share = spec.rate / 100
        label = f"{decimal_string(spec.rate)}% of the amount"
        lines.append(_line(label, units=quantity, unit_amount=share))
    if event_count and spec.fixed_amount:
        label = f"Fixed fee per event @ {price_string(spec.fixed_amount)}"
        lines.append(_line(label, units=Decimal(event_count), unit_amount=spec.fixed_amount))
    return tuple(lines)


PRICERS: dict[PricingModel, Callable[..., Lines]] = {
    PricingModel.FLAT: price_flat,
    PricingModel.PER_UNIT: price_per_unit,
    PricingModel.PACKAGE: price_package,
    PricingModel.GRADUATED: price_graduated,
    PricingModel.VOLUME: price_volume,
    PricingModel.STAIRSTEP: price_stairstep,
    PricingModel.PERCENTAGE: price_percentage,
}


def rate(spec: ChargeSpec, quantity: Decimal, *, event_count: int = 0) -> Rating:
    """Price `quantity` (the period's usage) with `spec`: free units, model, minimum, then cap.

    `event_count` is the number of events behind the quantity, for a percentage charge's fee per
    event. The amount is exact; round it once per invoice line with `round_money`.
    """
    with localcontext(EXACT):
        validate_charge(spec)
        quantity = _quantity(quantity, name="quantity")
        event_count = _event_count(event_count)
        free_used, billable = _take_free_units(spec, quantity)
        lines = _free_line(free_used) + PRICERS[PricingModel(spec.model)](
            spec, billable, event_count=event_count
        )
        amount = sum((line.amount for line in lines), ZERO)
        commitment_lines, amount = _commitments(spec, amount)
        return Rating(
            quantity=quantity,
            free_units=free_used,
            billable_quantity=billable,
            amount=amount,
            breakdown=lines + commitment_lines,
        )


def allowances_share(spec: ChargeSpec, *, fraction: Decimal) -> ChargeSpec:
    """`spec` for a share of a period: free units, minimum and cap × `fraction`; tiers unchanged.

    Free units, minimums and caps are per-period quantities, so the slice of a period spent on
    one plan version gets its share of each (by seconds); tiers restart with each plan's prices.
    """
    fraction = to_decimal(fraction)
    if not 0 <= fraction <= 1:
        raise RatingError(
            f"A share of a period is between 0 and 1, not {decimal_string(fraction)}."
        )
    if fraction == 1:
        return spec
    with localcontext(EXACT):
        return replace(
            spec,
            free_units=spec.free_units * fraction,
            min_amount=None if spec.min_amount is None else spec.min_amount * fraction,
            max_amount=None if spec.max_amount is None else spec.max_amount * fraction,
        )


def without_minimum(spec: ChargeSpec) -> ChargeSpec:
    """`spec` without its minimum: what a period owes so far, before the period-end true-up."""
    return spec if spec.min_amount is None else replace(spec, min_amount=None)


def breakdown_difference(after: Rating, before: Rating) -> tuple[BreakdownLine, ...]:
    """The rows of `after` less those of `before`, row by row (same label and band): what was
    added from one rating of a growing quantity to the next (a volume charge that moved up a
    band also shows the previous band's amount taken back)."""
    with localcontext(EXACT):
        return _difference(after.breakdown, before.breakdown)


def _quantity(value, *, name: str) -> Decimal:
    quantity = to_decimal(value)
    if quantity < 0:
        raise RatingError(f"The {name} quantity cannot be negative ({decimal_string(quantity)}).")
    return quantity


def _event_count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RatingError(f"The event count must be a whole number ≥ 0, not {value!r}.")
    return value


def _take_free_units(spec: ChargeSpec, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """(free units used, billable quantity): the allowance is used first, never below zero."""
    free_used = min(spec.free_units, quantity)
    return free_used, quantity - free_used


def _free_line(free_used: Decimal) -> Lines:
    return (_line("Free units", units=free_used),) if free_used > 0 else ()


def _commitments(spec: ChargeSpec, amount: Decimal) -> tuple[Lines, Decimal]:
    """Raise `amount` to the minimum and cap it at the maximum, each as a visible line."""
    lines = []
    if spec.min_amount is not None and amount < spec.min_amount:
        lines.append(_line("Minimum commitment top-up", flat_amount=spec.min_amount - amount))
        amount = spec.min_amount
    if spec.max_amount is not None and amount > spec.max_amount:
        lines.append(_line("Capped at maximum", flat_amount=spec.max_amount - amount))
        amount = spec.max_amount
    return tuple(lines), amount


def _difference(after: Lines, before: Lines) -> Lines:
    """The lines of `after` less those of `before`, row by row (same label and band)."""
    remaining = {(line.label, line.from_unit, line.up_to): line for line in before}
    lines = []
    for line in after:
        earlier = remaining.pop((line.label, line.from_unit, line.up_to), None)
        if earlier is not None:
            line = BreakdownLine(
                label=line.label,
                units=line.units - earlier.units,
                unit_amount=line.unit_amount,
                flat_amount=line.flat_amount - earlier.flat_amount,
                amount=line.amount - earlier.amount,
                from_unit=line.from_unit,
                up_to=line.up_to,
            )
        lines.append(line)
    for earlier in remaining.values():
        lines.append(
            BreakdownLine(
                label=f"Already billed: {earlier.label}",
                units=-earlier.units,
                unit_amount=earlier.unit_amount,
                flat_amount=-earlier.flat_amount,
                amount=-earlier.amount,
                from_unit=earlier.from_unit,
                up_to=earlier.up_to,
            )
        )
    return tuple(line for line in lines if line.units or line.flat_amount or line.amount)


def _line(
    label: str, *, units: Decimal = ZERO, unit_amount: Decimal = ZERO, flat_amount: Decimal = ZERO
) -> BreakdownLine:
    return BreakdownLine(
        label=label,
        units=units,
        unit_amount=unit_amount,
        flat_amount=flat_amount,
        amount=units * unit_amount + flat_amount,
    )


def _bands(tiers: tuple[Tier, ...]):
    """Each tier with its start: the previous tier's up_to (0 for the first); units > start."""
    start = ZERO
    for tier in tiers:
        yield start, tier
        if tier.up_to is not None:
            start = tier.up_to


def _band_line(label: str, *, start: Decimal, tier: Tier, units: Decimal) -> BreakdownLine:
    line = _line(label, units=units, unit_amount=tier.unit_amount, flat_amount=tier.flat_amount)
    whole = _is_whole(start) and (tier.up_to is None or _is_whole(tier.up_to))
    return BreakdownLine(
        label=line.label,
        units=line.units,
        unit_amount=line.unit_amount,
        flat_amount=line.flat_amount,
        amount=line.amount,
        from_unit=start + 1 if whole else start,
        up_to=tier.up_to,
    )


def _band_label(start: Decimal, up_to: Decimal | None) -> str:
    """ "1 – 1000", "1001 and above"; fractional bounds read "over 0.5 up to 2"."""
    if _is_whole(start) and (up_to is None or _is_whole(up_to)):
        first = decimal_string(start + 1)
        return f"{first} and above" if up_to is None else f"{first} – {decimal_string(up_to)}"
    if up_to is None:
        return f"over {decimal_string(start)}"
    if start == 0:
        return f"up to {decimal_string(up_to)}"
    return f"over {decimal_string(start)} up to {decimal_string(up_to)}"


def _rate_label(tier: Tier) -> str:
    flat = f" + {price_string(tier.flat_amount)} flat" if tier.flat_amount else ""
    return f" @ {price_string(tier.unit_amount)}{flat}"


def _is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()
