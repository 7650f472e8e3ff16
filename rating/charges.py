"""What a charge is, as the rating engine sees it: a pricing model, its prices and its tiers.

Services build these from `catalog.Charge` rows (or an API payload); the dataclasses coerce ints
and numeric strings to Decimal and refuse floats, so a spec always holds exact numbers.
"""

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum

from rating.errors import ChargeSpecError, RatingError
from rating.money import to_decimal


class PricingModel(StrEnum):
    FLAT = "flat"
    PER_UNIT = "per_unit"
    PACKAGE = "package"
    GRADUATED = "graduated"
    VOLUME = "volume"
    STAIRSTEP = "stairstep"
    PERCENTAGE = "percentage"


TIERED_MODELS = frozenset({PricingModel.GRADUATED, PricingModel.VOLUME, PricingModel.STAIRSTEP})

ZERO = Decimal("0")


def _coerce(
    instance: object, *, names: tuple[str, ...], defaults_to_zero: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Replace each named field by its Decimal on the frozen `instance`; return what was refused."""
    problems = []
    for name in names:
        value = getattr(instance, name)
        if value is None:
            if name in defaults_to_zero:
                object.__setattr__(instance, name, ZERO)
            continue
        try:
            object.__setattr__(instance, name, to_decimal(value))
        except RatingError as error:
            problems.append((name, str(error)))
    return problems


@dataclass(frozen=True, slots=True)
class Tier:
    """One band of a tiered charge: the units above the previous tier's `up_to`, up to this one.

    `up_to` is None on the last, unbounded band. A quantity exactly on `up_to` belongs here.
    """

    up_to: Decimal | None
    unit_amount: Decimal = Decimal("0")
    flat_amount: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        problems = _coerce(
            self,
            names=("up_to", "unit_amount", "flat_amount"),
            defaults_to_zero=("unit_amount", "flat_amount"),
        )
        if problems:
            raise ChargeSpecError(
                {
                    "tiers": [
                        f"Tier {name.replace('_', ' ')}: {message}" for name, message in problems
                    ]
                }
            )


_SPEC_NUMBERS = (
    "unit_amount",
    "amount",
    "package_size",
    "package_amount",
    "rate",
    "fixed_amount",
    "free_units",
    "min_amount",
    "max_amount",
)


@dataclass(frozen=True, slots=True)
class ChargeSpec:
    """A charge's pricing in the fields of docs/api.md, "Plans"; `rate` is a percent (2.9)."""

    model: str
    unit_amount: Decimal | None = None
    amount: Decimal | None = None
    package_size: Decimal | None = None
    package_amount: Decimal | None = None
    rate: Decimal | None = None
    fixed_amount: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    free_units: Decimal = Decimal("0")
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def __post_init__(self) -> None:
        problems = _coerce(self, names=_SPEC_NUMBERS, defaults_to_zero=("free_units",))
        errors: dict[str, list[str]] = {}
        for name, message in problems:
            errors.setdefault(name, []).append(message)
        tiers = () if self.tiers is None else self.tiers
        if not isinstance(tiers, tuple | list) or not all(isinstance(t, Tier) for t in tiers):
            errors.setdefault("tiers", []).append("The tiers must be a sequence of rating.Tier.")
        else:
            object.__setattr__(self, "tiers", tuple(tiers))
        if errors:
            raise ChargeSpecError(errors)


CHARGE_SPEC_FIELDS = tuple(field.name for field in fields(ChargeSpec))
