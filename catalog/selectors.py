"""Catalog reads: the latest version of a plan, whether a plan is frozen, charges as rating specs.

Subscriptions live in the customers app, which may not import us back and which catalog may not
import (docs/architecture.md): "in use" is read through the reverse relations customers declares
on Plan (`subscriptions`, `phases`), and is simply False while those models do not exist yet.
"""

from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value

from billing.errors import AppError
from catalog.currencies import format_money, is_known_currency
from catalog.models import Charge, Meter, Plan
from catalog.validation import CHARGE_FIELDS, charge_spec_from_values
from rating import ChargeSpec, ChargeSpecError, RatingError, rate
from rating import Tier as RatingTier

# Reverse accessors on Plan through which a subscription (or one of its phases) uses a plan.
IN_USE_RELATIONS = ("subscriptions", "phases")


def _in_use_relations() -> list[str]:
    present = []
    for name in IN_USE_RELATIONS:
        try:
            Plan._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        present.append(name)
    return present


def plan_is_frozen(*, plan: Plan) -> bool:
    """True when any subscription (or subscription phase) uses this version of the plan."""
    if plan.pk is None:
        return False
    for name in IN_USE_RELATIONS:
        related = getattr(plan, name, None)
        if related is not None and hasattr(related, "exists") and related.exists():
            return True
    return False


def plans_in_use_q() -> Q:
    """A filter on Plan matching the versions some subscription uses (nothing before customers)."""
    condition = Q(pk__in=[])
    for name in _in_use_relations():
        condition |= Q(**{f"{name}__isnull": False})
    return condition


def plans_in_use() -> QuerySet[Plan]:
    return Plan.objects.filter(plans_in_use_q()).distinct()


def plans_with_in_use(queryset: QuerySet[Plan]) -> QuerySet[Plan]:
    """`queryset` with `in_use` annotated: True on the versions some subscription uses."""
    if _in_use_relations():
        in_use = Exists(Plan.objects.filter(plans_in_use_q(), pk=OuterRef("pk")))
    else:
        in_use = Value(False, output_field=BooleanField())
    return queryset.annotate(in_use=in_use)


def plans_with_details(queryset: QuerySet[Plan] | None = None) -> QuerySet[Plan]:
    """Plans with `in_use` annotated and their charges, meters and tiers prefetched."""
    queryset = Plan.objects.all() if queryset is None else queryset
    return plans_with_in_use(queryset).prefetch_related(
        "charges__meter", "charges__tiers", "feature_grants__feature"
    )


def plans_latest() -> QuerySet[Plan]:
    """The latest version of every plan code, ordered by code."""
    newer = Plan.objects.filter(code=OuterRef("code"), version__gt=OuterRef("version"))
    return Plan.objects.filter(~Exists(newer)).order_by("code")


def plan_latest(*, code: str) -> Plan:
    """The highest version of plan `code`; raises Plan.DoesNotExist when there is none."""
    plan = Plan.objects.filter(code=code).order_by("-version").first()
    if plan is None:
        raise Plan.DoesNotExist(f"No plan with code {code!r}.")
    return plan


def plan_get(*, code: str, version: int | None = None) -> Plan:
    """One version of plan `code` (the latest when `version` is None); Plan.DoesNotExist if none."""
    if version is None:
        return plan_latest(code=code)
    return Plan.objects.get(code=code, version=version)


def plan_with_charges(*, plan_id: int) -> Plan:
    """The plan with its charges, their meters and tiers loaded in three queries."""
    return Plan.objects.prefetch_related("charges__meter", "charges__tiers").get(pk=plan_id)


def plan_versions(*, code: str) -> QuerySet[Plan]:
    return Plan.objects.filter(code=code).order_by("-version")


def meter_plans_in_use(*, meter: Meter) -> list[Plan]:
    """The plan versions in use that price this meter: its counting rules must not change."""
    return list(plans_in_use().filter(charges__meter=meter).distinct().order_by("code", "version"))


def charge_spec(*, charge: Charge) -> ChargeSpec:
    """The rating engine's view of a stored charge (reads prefetched tiers when present)."""
    return ChargeSpec(
        model=charge.model,
        unit_amount=charge.unit_amount,
        amount=charge.amount,
        package_size=charge.package_size,
        package_amount=charge.package_amount,
        rate=charge.rate,
        fixed_amount=charge.fixed_amount,
        tiers=tuple(
            RatingTier(up_to=tier.up_to, unit_amount=tier.unit_amount, flat_amount=tier.flat_amount)
            for tier in charge.tiers.all()
        ),
        free_units=charge.free_units,
        min_amount=charge.min_amount,
        max_amount=charge.max_amount,
    )


def price_preview(
    *, currency: str, spec: ChargeSpec, quantity: Decimal, event_count: int = 0
) -> dict:
    """Price `quantity` with `spec` alone: the rounded amount, the exact one and the breakdown.

    `quantity` is what the charge's meter would report for a period (for a percentage charge, the
    summed amount the rate applies to); `event_count` only counts for a percentage's fixed fee.
    """
    rating = rate(spec, quantity, event_count=event_count)
    rated = rating.as_dict()
    return {
        "currency": currency,
        "quantity": rated["quantity"],
        "free_units": rated["free_units"],
        "billable_quantity": rated["billable_quantity"],
        "event_count": event_count,
        "amount": format_money(rating.amount, currency),
        "exact_amount": rated["amount"],
        "breakdown": rated["breakdown"],
    }


def charge_price_preview(*, charge: Charge, quantity: Decimal, event_count: int = 0) -> dict:
    """The price preview of a stored charge, in its plan's currency."""
    return price_preview(
        currency=charge.plan.currency,
        spec=charge_spec(charge=charge),
        quantity=quantity,
        event_count=event_count,
    )


def price_preview_from_values(
    *, currency: str, charge: Mapping, quantity: Decimal, event_count: int = 0
) -> dict:
    """Price a charge given as API fields (as in a plan; "meter" optional, checked if given).

    Raises AppError with field errors ({"charge": {"tiers": [...]}}) when the
    currency is unknown or rating cannot price the charge.
    """
    errors: dict = {}
    if not is_known_currency(currency):
        errors["currency"] = [f"{currency!r} is not a currency Tally can bill in."]
    charge_errors: dict[str, list[str]] = {}
    unknown = sorted(set(charge) - set(CHARGE_FIELDS))
    for name in unknown:
        charge_errors[name] = ["Unknown field."]
    meter_code = charge.get("meter")
    if meter_code and not Meter.objects.filter(code=meter_code).exists():
        charge_errors["meter"] = [f"Unknown meter {meter_code!r}."]
    spec = None
    try:
        spec = charge_spec_from_values(charge)
    except ChargeSpecError as error:
        charge_errors.update(error.errors)
    if charge_errors:
        errors["charge"] = charge_errors
    if errors:
        raise AppError(errors)
    try:
        return price_preview(
            currency=currency, spec=spec, quantity=quantity, event_count=event_count
        )
    except RatingError as error:
        raise AppError({"quantity": [str(error)]}) from error
