"""Creating plans and changing them: in place while no subscription uses them, else a new version.

Every charge is checked with the rating engine's own rules (`validate_charge`) and every field
against its column before anything is written, so a refused plan leaves no row behind.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from billing.errors import AppError
from catalog.models import BaseTiming, Cadence, Charge, Meter, Plan, Tier
from catalog.selectors import plan_is_frozen
from catalog.services.features import (
    grant_key,
    plan_grant_rows,
    plan_grants_copy,
    plan_grants_write,
)
from catalog.validation import (
    CHARGE_FIELDS,
    CHARGE_NUMBER_FIELDS,
    PLAN_FIELDS,
    charge_spec_from_values,
    on_demand_refusal,
    plan_field_errors,
)
from rating import ChargeSpecError

ErrorDict = dict[str, list[str]]


@dataclass
class _ChargeRow:
    """A validated, unsaved charge with its unsaved tiers."""

    charge: Charge
    tiers: list[Tier]

    def key(self) -> tuple:
        return _charge_key(self.charge, self.tiers)


def _charge_key(charge: Charge, tiers: Sequence[Tier]) -> tuple:
    """What a charge prices, for comparing two versions (Decimal("0.8") == Decimal("0.80"))."""
    numbers = tuple(getattr(charge, name) for name in CHARGE_NUMBER_FIELDS)
    bands = tuple((tier.up_to, tier.unit_amount, tier.flat_amount) for tier in tiers)
    return (charge.meter_id, charge.description, charge.model, charge.cadence, numbers, bands)


def _field_errors(instance, *, exclude: list[str]) -> ErrorDict:
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return {}


def _resolve_meters(charges: Sequence) -> dict[str, Meter]:
    codes = {
        values["meter"]
        for values in charges
        if isinstance(values, Mapping) and isinstance(values.get("meter"), str)
    }
    return {meter.code: meter for meter in Meter.objects.filter(code__in=codes)}


def _charge_row(
    values: Mapping, *, position: int, meters: dict[str, Meter]
) -> _ChargeRow | ErrorDict:
    """A validated charge row, or the field errors of `values`."""
    errors: ErrorDict = {}
    for name in sorted(set(values) - set(CHARGE_FIELDS)):
        errors[name] = ["Unknown field."]
    meter = values.get("meter")
    if isinstance(meter, str):
        meter = meters.get(meter)
        if meter is None:
            errors["meter"] = [
                f"Unknown meter {values['meter']!r}: create it first (POST /api/v1/meters)."
            ]
    elif not isinstance(meter, Meter):
        errors["meter"] = ["Give the code of the meter this charge prices."]
    cadence = values.get("cadence") or Cadence.IN_ARREARS
    if cadence not in Cadence.values:
        errors["cadence"] = [f"Choose one of {', '.join(Cadence.values)}."]
    elif cadence == Cadence.ON_DEMAND and isinstance(meter, Meter):
        refusal = on_demand_refusal(meter)
        if refusal:
            errors["cadence"] = [refusal]
    try:
        spec = charge_spec_from_values(values)
    except ChargeSpecError as error:
        for name, messages in error.errors.items():
            errors.setdefault(name, []).extend(messages)
        return errors
    charge = Charge(
        meter=meter if isinstance(meter, Meter) else None,
        position=position,
        description=values.get("description") or "",
        model=spec.model,
        cadence=cadence,
        **{name: getattr(spec, name) for name in CHARGE_NUMBER_FIELDS},
    )
    for name, messages in _field_errors(charge, exclude=["plan", "meter", "cadence"]).items():
        errors.setdefault(name, []).extend(messages)
    tiers = []
    for number, band in enumerate(spec.tiers, start=1):
        tier = Tier(
            position=number - 1,
            up_to=band.up_to,
            unit_amount=band.unit_amount,
            flat_amount=band.flat_amount,
        )
        for name, messages in _field_errors(tier, exclude=["charge"]).items():
            label = name.replace("_", " ")
            errors.setdefault("tiers", []).extend(f"Tier {number} {label}: {m}" for m in messages)
        tiers.append(tier)
    return errors or _ChargeRow(charge=charge, tiers=tiers)


def _charge_rows(charges, errors: dict) -> list[_ChargeRow]:
    """Validate a list of charges given as API fields; their errors go to errors["charges"]."""
    if isinstance(charges, str | bytes | Mapping) or not isinstance(charges, Sequence):
        errors["charges"] = ["Charges are a list of objects."]
        return []
    meters = _resolve_meters(charges)
    rows: list[_ChargeRow] = []
    charge_errors: dict[str, ErrorDict] = {}
    for index, values in enumerate(charges):
        if not isinstance(values, Mapping):
            charge_errors[str(index)] = {"non_field_errors": ["A charge is an object."]}
            continue
        result = _charge_row(values, position=index, meters=meters)
        if isinstance(result, _ChargeRow):
            rows.append(result)
        else:
            charge_errors[str(index)] = result
    if charge_errors:
        errors["charges"] = charge_errors
    return rows


def _charge_values(charge: Charge) -> dict:
    """A stored charge as the API fields it was created from (to copy it into a new version)."""
    return {
        "meter": charge.meter,
        "description": charge.description,
        "model": charge.model,
        "cadence": charge.cadence,
        **{name: getattr(charge, name) for name in CHARGE_NUMBER_FIELDS},
        "tiers": [
            {"up_to": tier.up_to, "unit_amount": tier.unit_amount, "flat_amount": tier.flat_amount}
            for tier in charge.tiers.all()
        ],
    }


def _write_charges(plan: Plan, rows: list[_ChargeRow]) -> None:
    for row in rows:
        row.charge.plan = plan
        row.charge.save()
        for tier in row.tiers:
            tier.charge = row.charge
            # One save per tier (a charge has a handful), not bulk_create: the audit log
            # records a tier through its save signal (docs/operations.md, "Audit log").
            tier.save()


def _copy(plan: Plan) -> Plan:
    """An unsaved copy of the plan's own fields."""
    fields = {name: getattr(plan, name) for name in PLAN_FIELDS}
    fields["metadata"] = dict(plan.metadata) if isinstance(plan.metadata, dict) else plan.metadata
    return Plan(code=plan.code, version=plan.version, **fields)


def _lock_versions(code: str) -> int:
    """Lock every version of `code` (versioning is serialised per code); the highest version."""
    list(Plan.objects.select_for_update().filter(code=code).values_list("pk", flat=True))
    # A fresh statement after the wait: it sees a version another writer committed meanwhile,
    # which the locking read (its snapshot taken before the wait) does not.
    return Plan.objects.filter(code=code).aggregate(highest=Max("version"))["highest"] or 0


def _save_version(candidate: Plan, rows: list[_ChargeRow], *, version: int, grants) -> Plan:
    candidate.pk = None
    candidate.version = version
    candidate.save()
    _write_charges(candidate, rows)
    plan_grants_write(candidate, grants)
    return candidate


def plan_create(
    *,
    code: str,
    name: str,
    currency: str,
    interval: str,
    interval_count: int = 1,
    base_amount: Decimal | str = Decimal("0"),
    base_timing: str = BaseTiming.IN_ADVANCE,
    setup_amount: Decimal | str = Decimal("0"),
    trial_days: int = 0,
    trial_bills_usage: bool = False,
    description: str = "",
    metadata: dict | None = None,
    charges: Sequence[Mapping] = (),
    features: Sequence[Mapping] = (),
) -> Plan:
    """Create version 1 of a plan with its charges and tiers, and its feature grants
    (catalog.services.features), all or nothing.

    Charges are mappings of the API's fields ("meter" is a Meter or its code). Raises
    AppError with every field error (charges → index → field) before writing, and
    a conflict AppError when a plan with this code exists.
    """
    plan = Plan(
        code=code,
        version=1,
        name=name,
        description=description or "",
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        base_amount=base_amount,
        base_timing=base_timing,
        setup_amount=setup_amount,
        trial_days=trial_days,
        trial_bills_usage=trial_bills_usage,
        metadata={} if metadata is None else metadata,
    )
    errors: dict = plan_field_errors(plan)
    rows = _charge_rows(charges, errors)
    grants = plan_grant_rows(features, errors)
    if errors:
        raise AppError(errors)
    if Plan.objects.filter(code=plan.code).exists():
        raise AppError.conflict(
            f"A plan with code {plan.code!r} already exists; change it with "
            f"PATCH /api/v1/plans/{plan.code} (a new version once subscribed)."
        )
    with transaction.atomic():
        plan.save()
        _write_charges(plan, rows)
        plan_grants_write(plan, grants)
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, **changes) -> Plan:
    """Apply `changes` (plan fields, and `charges` to replace them all) to `plan`.

    A plan no subscription uses is edited in place and returned. A frozen plan (in use) is never
    edited: the changes make a new version (the highest so far + 1), copied from `plan` with the
    changed fields and charges, which is returned; subscriptions keep the version they have. When
    nothing actually changes, the frozen plan itself is returned. Its currency cannot change:
    subscribers are billed in one currency. Refusals raise AppError, writing nothing.
    """
    errors: dict = {}
    for name, value in (("code", plan.code), ("version", plan.version)):
        if name in changes and changes.pop(name) != value:
            errors[name] = [f"A plan's {name} cannot be changed."]
    for name in sorted(set(changes) - set(PLAN_FIELDS) - {"charges", "features"}):
        errors[name] = ["Unknown field."]
    latest_version = _lock_versions(plan.code)
    plan = Plan.objects.prefetch_related("charges__meter", "charges__tiers").get(pk=plan.pk)
    frozen = plan_is_frozen(plan=plan)

    candidate = _copy(plan)
    for name in PLAN_FIELDS:
        if name in changes:
            setattr(candidate, name, changes[name])
    errors.update(plan_field_errors(candidate))
    if frozen and "currency" not in errors and candidate.currency != plan.currency:
        errors["currency"] = [
            f"Subscriptions are billed in {plan.currency} on this plan: its currency cannot "
            "change. Create a new plan in the other currency instead."
        ]
    rows: list[_ChargeRow] = []
    if "charges" in changes:
        rows = _charge_rows(changes["charges"], errors)
    elif frozen:
        rows = _charge_rows([_charge_values(charge) for charge in plan.charges.all()], errors)
    if "features" in changes:
        grants = plan_grant_rows(changes["features"], errors)
    else:
        grants = plan_grants_copy(plan)
    if errors:
        raise AppError(errors)

    if frozen:
        same_fields = all(getattr(candidate, name) == getattr(plan, name) for name in PLAN_FIELDS)
        old_keys = [_charge_key(charge, charge.tiers.all()) for charge in plan.charges.all()]
        old_grants = sorted(grant_key(grant) for grant in plan.feature_grants.all())
        if (
            same_fields
            and old_keys == [row.key() for row in rows]
            and old_grants == sorted(grant_key(grant) for grant in grants)
        ):
            return plan
        return _save_version(candidate, rows, version=latest_version + 1, grants=grants)

    for name in PLAN_FIELDS:
        setattr(plan, name, getattr(candidate, name))
    plan.save()
    if "charges" in changes:
        plan.charges.all().delete()
        _write_charges(plan, rows)
    if "features" in changes:
        plan.feature_grants.all().delete()
        plan_grants_write(plan, grants)
    return plan


@transaction.atomic
def plan_new_version(*, plan: Plan) -> Plan:
    """Copy `plan` (fields, charges, tiers) as the next version of its code, to edit freely."""
    latest_version = _lock_versions(plan.code)
    plan = Plan.objects.prefetch_related("charges__meter", "charges__tiers").get(pk=plan.pk)
    errors: dict = {}
    rows = _charge_rows([_charge_values(charge) for charge in plan.charges.all()], errors)
    if errors:
        raise AppError(errors)
    return _save_version(
        _copy(plan), rows, version=latest_version + 1, grants=plan_grants_copy(plan)
    )
