"""Features and the grants of them that plans (and subscriptions' overrides) carry
(docs/api.md, "Entitlements"). Every grant is checked here before anything is written."""

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction

from billing.errors import AppError
from catalog.models import (
    FEATURE_MAX_ALERT_PERCENT,
    FEATURE_MAX_ALERTS,
    FEATURE_MAX_LIMIT,
    Feature,
    FeatureType,
    Meter,
    Plan,
    PlanFeature,
)

GRANT_FIELDS = ("feature", "limit", "value", "hard", "alerts")


def feature_create(
    *, code: str, name: str, type: str, meter: Meter | str | None = None, description: str = ""
) -> Feature:
    """A new feature; a metered one needs a meter (or its code), the others none."""
    errors: dict = {}
    if type not in FeatureType.values:
        errors["type"] = [f"One of {', '.join(FeatureType.values)}."]
    if isinstance(meter, str):
        found = Meter.objects.filter(code=meter).first()
        if found is None:
            errors["meter"] = [f"Unknown meter {meter!r}."]
        meter = found
    if type == FeatureType.METERED and meter is None and "meter" not in errors:
        errors["meter"] = ["A metered feature needs a meter."]
    if type != FeatureType.METERED and meter is not None:
        errors["meter"] = ["Only a metered feature has a meter."]
    feature = Feature(code=code, name=name, type=type, meter=meter, description=description or "")
    try:
        feature.clean_fields(exclude=["meter"])
    except Exception as error:  # ValidationError: field messages
        errors.update(getattr(error, "message_dict", {}))
    if errors:
        raise AppError(errors)
    with transaction.atomic():
        if Feature.objects.select_for_update().filter(code=code).exists():
            raise AppError.conflict(f"A feature with code {code!r} already exists.")
        feature.save()
    return feature


def grant_terms(*, feature: Feature, values: Mapping) -> tuple[dict, dict]:
    """The grant's fields for `feature` from API-shaped `values`, and the errors if any."""
    errors: dict = {}
    for name in sorted(set(values) - set(GRANT_FIELDS) - {"enabled"}):
        errors[name] = ["Unknown field."]
    terms = {"limit": None, "hard": True, "value": "", "alerts": []}
    metered = feature.type == FeatureType.METERED
    if values.get("limit") is not None:
        if not metered:
            errors["limit"] = ["Only a metered feature has a limit."]
        else:
            try:
                limit = Decimal(str(values["limit"]))
                if not limit.is_finite() or not 0 <= limit <= FEATURE_MAX_LIMIT:
                    raise InvalidOperation
                terms["limit"] = limit
            except (InvalidOperation, ValueError):
                errors["limit"] = [f"A number from 0 to {FEATURE_MAX_LIMIT}, or null (unlimited)."]
    if "hard" in values:
        if not isinstance(values["hard"], bool):
            errors["hard"] = ["true or false."]
        elif not metered and values["hard"] is not True:
            errors["hard"] = ["Only a metered feature has a soft limit."]
        else:
            terms["hard"] = values["hard"]
    if values.get("value") not in (None, ""):
        if feature.type != FeatureType.STATIC:
            errors["value"] = ["Only a static feature has a value."]
        elif not isinstance(values["value"], str | int) or len(str(values["value"])) > 255:
            errors["value"] = ["A text of at most 255 characters."]
        else:
            terms["value"] = str(values["value"])
    alerts = values.get("alerts") or []
    if alerts:
        valid = (
            isinstance(alerts, list)
            and len(alerts) <= FEATURE_MAX_ALERTS
            and all(
                isinstance(p, int)
                and not isinstance(p, bool)
                and 1 <= p <= FEATURE_MAX_ALERT_PERCENT
                for p in alerts
            )
        )
        if not metered:
            errors["alerts"] = ["Only a metered feature has usage alerts."]
        elif not valid:
            errors["alerts"] = [
                f"At most {FEATURE_MAX_ALERTS} whole percents from 1 to "
                f"{FEATURE_MAX_ALERT_PERCENT}, e.g. [80, 100]."
            ]
        else:
            terms["alerts"] = sorted(set(alerts))
    if terms["alerts"] and terms["limit"] is None and "limit" not in errors:
        errors["alerts"] = ["Alerts are percents of a limit: set a limit."]
    return terms, errors


def plan_grant_rows(grants: Sequence, errors: dict) -> list[PlanFeature]:
    """Validated, unsaved grants from the plan API's `features`; errors go in errors["features"]
    by index, as the charges' do."""
    if not isinstance(grants, Sequence) or isinstance(grants, str | bytes):
        errors["features"] = ["A list of {feature, limit?, value?, hard?, alerts?}."]
        return []
    codes = {g.get("feature") for g in grants if isinstance(g, Mapping)}
    features = {f.code: f for f in Feature.objects.filter(code__in=[c for c in codes if c])}
    rows, found, seen = [], {}, set()
    for index, values in enumerate(grants):
        if not isinstance(values, Mapping):
            found[str(index)] = {"non_field_errors": ["An object."]}
            continue
        feature = features.get(values.get("feature"))
        if not values.get("feature"):
            found[str(index)] = {"feature": ["This field is required: a feature code."]}
            continue
        if feature is None:
            found[str(index)] = {
                "feature": [
                    f"Unknown feature {values.get('feature')!r}: create it first "
                    "(POST /api/v1/features)."
                ]
            }
            continue
        if feature.code in seen:
            found[str(index)] = {"feature": [f"{feature.code!r} is granted twice."]}
            continue
        seen.add(feature.code)
        terms, grant_errors = grant_terms(feature=feature, values=values)
        if grant_errors:
            found[str(index)] = grant_errors
            continue
        rows.append(PlanFeature(feature=feature, **terms))
    if found:
        errors["features"] = found
    return rows


def grant_key(grant: PlanFeature) -> tuple:
    """What a grant gives, for comparing two versions of a plan."""
    return (grant.feature_id, grant.limit, grant.hard, grant.value, tuple(grant.alerts))


def plan_grants_write(plan: Plan, rows: list[PlanFeature]) -> None:
    """Save `rows` as the plan's grants (one save each: the audit log records them)."""
    for row in rows:
        row.pk = None
        row.plan = plan
        row.save()


def plan_grants_copy(plan: Plan) -> list[PlanFeature]:
    """Unsaved copies of the plan's grants, for its next version."""
    return [
        PlanFeature(
            feature=grant.feature,
            limit=grant.limit,
            hard=grant.hard,
            value=grant.value,
            alerts=list(grant.alerts),
        )
        for grant in plan.feature_grants.select_related("feature")
    ]
