"""Charge checks shared by the services, the API and the admin: one set of rules, rating's own.

A charge arrives as a mapping of the API's field names (from a request, a form or the demo);
`charge_spec_from_values` turns it into a rating `ChargeSpec` and runs `validate_charge`, so an
operator sees the same message wherever the charge was typed.
"""

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError

from catalog.currencies import is_known_currency
from catalog.models import ON_DEMAND_AGGREGATIONS, Aggregation, Meter, Plan
from rating import ChargeSpec, ChargeSpecError, validate_charge
from rating import Tier as RatingTier

PLAN_FIELDS = (
    "name",
    "description",
    "currency",
    "interval",
    "interval_count",
    "base_amount",
    "base_timing",
    "setup_amount",
    "trial_days",
    "trial_bills_usage",
    "metadata",
)
PLAN_AMOUNTS = ("base_amount", "setup_amount")
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


def on_demand_refusal(meter: Meter, *, aggregation: str | None = None) -> str | None:
    """Why an on-demand charge cannot price `meter` (with `aggregation` if given), or None.

    On-demand invoices bill the growth of the usage as it lands: only aggregations that never
    go down within the window can be billed that way (docs/architecture.md, "The charge ledger").
    """
    aggregation = aggregation or meter.aggregation
    if aggregation in ON_DEMAND_AGGREGATIONS:
        return None
    allowed = ", ".join(sorted(ON_DEMAND_AGGREGATIONS))
    return (
        f"Meter {meter.code!r} aggregates with {aggregation!r}, which can go down within a "
        f"period, so it cannot be billed on demand: use cadence in_arrears, or a meter with "
        f"{allowed}."
    )


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


# The longest billing period of each interval (docs/api.md "Bounds"): about five years at most,
# a day of minutes and a month of hours, so period arithmetic and backlogs stay small.
MAX_INTERVAL_COUNT = {
    "minute": 1440,
    "hour": 744,
    "day": 366,
    "week": 260,
    "month": 60,
    "quarter": 20,
    "year": 5,
}


def plan_field_errors(plan: Plan) -> dict[str, list[str]]:
    """Field errors of a plan's own fields (not its charges); normalises the currency code."""
    errors: dict[str, list[str]] = {}
    for name in PLAN_AMOUNTS:
        if isinstance(getattr(plan, name), float):
            errors[name] = ['Give an exact number as a string, e.g. "29.00", not a float.']
            setattr(plan, name, Decimal("0"))
    if isinstance(plan.currency, str):
        plan.currency = plan.currency.strip().upper()
    try:
        plan.clean_fields(exclude=["version"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if not is_known_currency(plan.currency):
        errors["currency"] = [
            f"{plan.currency!r} is not a currency Tally can bill in: "
            "use an ISO 4217 code such as USD, EUR or JPY."
        ]
    for name in PLAN_AMOUNTS:
        value = getattr(plan, name)
        if name not in errors and value is not None and value < 0:
            errors[name] = [f"The {name.replace('_', ' ')} cannot be negative."]
    if "interval_count" not in errors and plan.interval_count is not None:
        if plan.interval_count < 1:
            errors["interval_count"] = ["The interval count is at least 1."]
        elif plan.interval_count > MAX_INTERVAL_COUNT.get(plan.interval, 1):
            errors["interval_count"] = [
                f"At most {MAX_INTERVAL_COUNT[plan.interval]} for a {plan.interval} interval "
                "(a billing period of about five years at most)."
            ]
    if "metadata" not in errors and not isinstance(plan.metadata, dict):
        errors["metadata"] = ['Metadata is an object of keys and values, e.g. {"team": "growth"}.']
    return errors


def _filters_errors(filters) -> list[str]:
    if not isinstance(filters, dict):
        return ['Filters are an object: property → list of values, e.g. {"model": ["gpt-4"]}.']
    problems = []
    for prop, values in filters.items():
        if not isinstance(prop, str) or not prop.strip():
            problems.append("Each filter names a property.")
            continue
        if not isinstance(values, list) or not values:
            problems.append(f"Filter {prop!r}: give a non-empty list of allowed values.")
            continue
        if not all(isinstance(value, str | int | float | bool) for value in values):
            problems.append(f"Filter {prop!r}: values must be strings, numbers or booleans.")
    return problems


# A dotted property path: non-empty names without dots, quotes or white space between dots.
PROPERTY_PATH = re.compile(r'^[^.\s"]+(\.[^.\s"]+)*$')


def meter_field_errors(meter: Meter) -> dict[str, list[str]]:
    """Field errors of a meter: column formats, the property a numeric meter reads, filters."""
    errors: dict[str, list[str]] = {}
    try:
        meter.clean_fields()
    except ValidationError as error:
        errors.update(error.message_dict)
    if meter.aggregation != Aggregation.COUNT and not (meter.field or "").strip():
        errors.setdefault("field", []).append(
            f"A {meter.aggregation} meter reads a property: give its path (e.g. tokens)."
        )
    for name in ("field", "group_by"):
        path = getattr(meter, name, "") or ""
        if path.strip() and not PROPERTY_PATH.match(path):
            errors.setdefault(name, []).append(
                f"{path!r} is not a property path: names separated by single dots, e.g. "
                "usage.tokens (no leading, trailing or double dots, no spaces)."
            )
    filters_errors = _filters_errors(meter.filters)
    if filters_errors:
        errors["filters"] = filters_errors
    return errors
