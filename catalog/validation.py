"""Charge checks shared by the services, the API and the admin: one set of rules, rating's own.

A charge arrives as a mapping of the API's field names (from a request, a form or the demo);
`charge_spec_from_values` turns it into a rating `ChargeSpec` and runs `validate_charge`, so an
operator sees the same message wherever the charge was typed.
"""

from collections.abc import Mapping, Sequence

from rating import ChargeSpec, ChargeSpecError, validate_charge
from rating import Tier as RatingTier

CHARGE_NUMBER_FIELDS = (
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
TIER_FIELDS = ("up_to", "unit_amount", "flat_amount")
CHARGE_FIELDS = ("meter", "description", "model", "cadence", "tiers", *CHARGE_NUMBER_FIELDS)
# The fields a price preview reads; the others of a charge (meter, label, cadence) are allowed.
PRICING_FIELDS = ("model", "tiers", *CHARGE_NUMBER_FIELDS)


def _merge(errors: dict[str, list[str]], more: Mapping[str, Sequence[str]]) -> None:
    for field, messages in more.items():
        bucket = errors.setdefault(field, [])
        bucket.extend(message for message in messages if message not in bucket)


def _rating_tiers(tiers, errors: dict[str, list[str]]) -> tuple[RatingTier, ...]:
    if tiers is None:
        return ()
    if isinstance(tiers, str | bytes) or not isinstance(tiers, Sequence):
        errors.setdefault("tiers", []).append("Tiers must be a list of {up_to, unit_amount}.")
        return ()
    result = []
    for number, tier in enumerate(tiers, start=1):
        if not isinstance(tier, Mapping):
            errors.setdefault("tiers", []).append(f"Tier {number} must be an object.")
            continue
        unknown = sorted(set(tier) - set(TIER_FIELDS))
        if unknown:
            errors.setdefault("tiers", []).append(
                f"Tier {number}: unknown field(s) {', '.join(unknown)}; "
                f"a tier has {', '.join(TIER_FIELDS)}."
            )
        try:
            result.append(RatingTier(**{name: tier.get(name) for name in TIER_FIELDS}))
        except ChargeSpecError as error:
            messages = [
                message.replace("Tier ", f"Tier {number} ", 1) for message in error.errors["tiers"]
            ]
            _merge(errors, {"tiers": messages})
    return tuple(result)


def charge_spec_from_values(values: Mapping) -> ChargeSpec:
    """The rating spec of a charge given as API fields; ChargeSpecError lists every problem."""
    errors: dict[str, list[str]] = {}
    tiers = _rating_tiers(values.get("tiers"), errors)
    numbers = {name: values.get(name) for name in CHARGE_NUMBER_FIELDS}
    model = values.get("model")
    if not model:
        errors.setdefault("model", []).append("Choose a pricing model.")
    spec = None
    try:
        spec = ChargeSpec(model=model or "", tiers=tiers, **numbers)
    except ChargeSpecError as error:
        _merge(errors, error.errors)
    if spec is not None:
        try:
            validate_charge(spec)
        except ChargeSpecError as error:
            if model:
                _merge(errors, error.errors)
            else:
                _merge(errors, {k: v for k, v in error.errors.items() if k != "model"})
    if errors:
        raise ChargeSpecError(errors)
    return spec


def charge_errors(values: Mapping) -> dict[str, list[str]]:
    """The field errors of a charge given as API fields; empty when rating can price it."""
    try:
        charge_spec_from_values(values)
    except ChargeSpecError as error:
        return error.errors
    return {}
