"""Creating and changing meters. A meter that prices a plan in use keeps its counting rules."""

from django.db import transaction

from billing.errors import AppError
from catalog.models import Cadence, Meter, MeterReset
from catalog.selectors import meter_plans_in_use
from catalog.validation import meter_field_errors, on_demand_refusal

EDITABLE_FIELDS = (
    "name",
    "description",
    "event_name",
    "aggregation",
    "field",
    "filters",
    "group_by",
    "unit",
    "reset",
)
# Changing these changes how much a running period counts, so they are locked once in use.
COUNTING_FIELDS = ("event_name", "aggregation", "field", "filters", "reset")


def _validate(meter: Meter) -> None:
    errors = meter_field_errors(meter)
    if errors:
        raise AppError(errors)


def meter_create(
    *,
    code: str,
    name: str,
    event_name: str,
    aggregation: str,
    field: str = "",
    filters: dict | None = None,
    unit: str = "",
    reset: str = MeterReset.PERIOD,
    description: str = "",
    group_by: str = "",
) -> Meter:
    """Create a meter; AppError on bad fields (a conflict when the code exists)."""
    meter = Meter(
        code=code,
        name=name,
        event_name=event_name,
        aggregation=aggregation,
        field=field or "",
        filters={} if filters is None else filters,
        unit=unit or "",
        reset=reset,
        description=description or "",
        group_by=group_by or "",
    )
    _validate(meter)
    if Meter.objects.filter(code=code).exists():
        raise AppError.conflict(f"A meter with code {code!r} already exists.")
    meter.save()
    return meter


@transaction.atomic
def meter_update(*, meter: Meter, **changes) -> Meter:
    """Change a meter's fields; its code never changes, nor its counting rules once in use."""
    errors: dict[str, list[str]] = {}
    if "code" in changes:
        if changes.pop("code") != meter.code:
            errors["code"] = ["A meter's code cannot be changed; create a new meter instead."]
    for name in sorted(set(changes) - set(EDITABLE_FIELDS)):
        errors[name] = ["Unknown field."]
    changed = {
        name: value
        for name, value in changes.items()
        if name in EDITABLE_FIELDS and getattr(meter, name) != value
    }
    locked = [name for name in changed if name in COUNTING_FIELDS]
    if locked:
        plans = meter_plans_in_use(meter=meter)
        if plans:
            in_use = ", ".join(f"{plan.code} v{plan.version}" for plan in plans)
            for name in locked:
                errors[name] = [
                    f"This meter prices plans in use ({in_use}); its {name.replace('_', ' ')} "
                    "cannot change. Create a new meter and a new plan version instead."
                ]
    if "aggregation" in changed and "aggregation" not in errors:
        on_demand = meter.charges.filter(cadence=Cadence.ON_DEMAND).select_related("plan")
        refusal = on_demand_refusal(meter, aggregation=changed["aggregation"])
        if refusal and on_demand.exists():
            plans = ", ".join(sorted({f"{c.plan.code} v{c.plan.version}" for c in on_demand}))
            errors["aggregation"] = [f"{refusal} It prices on-demand charges of {plans}."]
    if errors:
        raise AppError(errors)
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    for name, value in changed.items():
        setattr(meter, name, value)
    _validate(meter)
    meter.save()
    return meter
