"""Checks that a charge can be priced, with messages an operator can act on, field by field."""

from decimal import Decimal

from rating.charges import TIERED_MODELS, ChargeSpec, PricingModel
from rating.errors import ChargeSpecError
from rating.money import decimal_string

_LABELS = {
    "unit_amount": "unit amount",
    "amount": "amount",
    "package_size": "package size",
    "package_amount": "package amount",
    "rate": "rate",
    "fixed_amount": "fixed amount",
    "free_units": "number of free units",
    "min_amount": "minimum amount",
    "max_amount": "maximum amount",
}

_MODEL_NAMES = {
    PricingModel.GRADUATED: "graduated",
    PricingModel.VOLUME: "volume",
    PricingModel.STAIRSTEP: "stairstep",
}


def validate_charge(spec: ChargeSpec) -> None:
    """Raise ChargeSpecError with every problem of `spec`, keyed by field, or return None."""
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field, label in _LABELS.items():
        value = getattr(spec, field)
        if value is not None and value < 0:
            refuse(field, f"The {label} cannot be negative ({decimal_string(value)}).")

    try:
        model = PricingModel(spec.model)
    except ValueError:
        choices = ", ".join(PricingModel)
        refuse("model", f"Unknown pricing model {spec.model!r}: choose one of {choices}.")
        model = None

    if model == PricingModel.FLAT and spec.amount is None:
        refuse("amount", "A flat charge needs an amount.")
    if model == PricingModel.PER_UNIT and spec.unit_amount is None:
        refuse("unit_amount", "A per-unit charge needs a unit amount.")
    if model == PricingModel.PACKAGE:
        if spec.package_size is None:
            refuse("package_size", "A package charge needs a package size.")
        elif spec.package_size == 0:
            refuse("package_size", "The package size must be greater than 0.")
        if spec.package_amount is None:
            refuse("package_amount", "A package charge needs a package amount.")
    if model == PricingModel.PERCENTAGE:
        if spec.rate is None:
            refuse("rate", "A percentage charge needs a rate (a percent, e.g. 2.9).")
        elif spec.rate > 100:
            refuse("rate", f"The rate is a percent from 0 to 100, not {decimal_string(spec.rate)}.")
    if model in TIERED_MODELS:
        for message in _tier_problems(spec, model=model):
            refuse("tiers", message)

    if spec.min_amount is not None and spec.max_amount is not None:
        if spec.min_amount > spec.max_amount:
            refuse(
                "min_amount",
                f"The minimum amount ({decimal_string(spec.min_amount)}) cannot be above "
                f"the maximum amount ({decimal_string(spec.max_amount)}).",
            )

    if errors:
        raise ChargeSpecError(errors)


def _tier_problems(spec: ChargeSpec, *, model: PricingModel) -> list[str]:
    """What is wrong with the tiers of a graduated, volume or stairstep charge."""
    tiers = spec.tiers
    if not tiers:
        return [f"A {_MODEL_NAMES[model]} charge needs at least one tier."]
    problems = []
    for number, tier in enumerate(tiers, start=1):
        for name, value in (
            ("up to", tier.up_to),
            ("unit amount", tier.unit_amount),
            ("flat amount", tier.flat_amount),
        ):
            if value is not None and value < 0:
                problems.append(f"Tier {number}: the {name} cannot be negative.")
        if model == PricingModel.STAIRSTEP and tier.unit_amount != 0:
            problems.append(
                f"Tier {number}: a stairstep charge prices each step by its flat amount; "
                f"set the unit amount ({decimal_string(tier.unit_amount)}) to 0."
            )
    bounded = [tier for tier in tiers[:-1] if tier.up_to is not None]
    if len(bounded) < len(tiers) - 1:
        problems.append("Only the last tier may be unbounded (up_to empty).")
    if tiers[-1].up_to is not None:
        problems.append(
            "The last tier must be unbounded (up_to empty), so that every quantity has a price."
        )
    problems.extend(_order_problems(tiers))
    return problems


def _order_problems(tiers) -> list[str]:
    """Bounded tiers must climb strictly: each up_to above the one before, the first above 0."""
    problems = []
    previous: tuple[int, Decimal] | None = None
    for number, tier in enumerate(tiers, start=1):
        if tier.up_to is None:
            continue
        if previous is None and tier.up_to == 0:
            problems.append(f"Tier {number}: up_to must be above 0.")
        if previous is not None and tier.up_to <= previous[1]:
            problems.append(
                f"Tiers must be in ascending order of up_to: tier {number} "
                f"({decimal_string(tier.up_to)}) is not above tier {previous[0]} "
                f"({decimal_string(previous[1])})."
            )
            continue  # compare the next tier with the highest bound so far
        previous = (number, tier.up_to)
    return problems
