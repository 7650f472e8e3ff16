"""Entitlements in real time (docs/api.md, "Entitlements"): what a customer's live subscription
grants (its plan's grants, overridden per subscription) and, for a metered feature, the usage
of its meter in the current period read through the exact usage selector (rollups for whole
buckets, raw events at the edges), so an event accepted a moment ago counts.

has_access: boolean → granted; static → granted (with its value); metered → granted and, for
a hard limit, usage below the limit (a soft limit stays open, the overage in `usage`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import F, FilteredRelation, Q

from catalog.models import Feature, FeatureType, PlanFeature
from customers.models import LIVE_STATUSES, Customer, Subscription, SubscriptionFeature
from customers.selectors import subscription_period_at
from metering.selectors.usage import usage_for_period
from rating.periods import Period

ZERO = Decimal("0")


@dataclass(frozen=True)
class Grant:
    """What the subscription is given of one feature, after its override."""

    feature: Feature
    limit: Decimal | None
    hard: bool
    value: str
    alerts: tuple[int, ...]


@dataclass
class Entitlement:
    feature: Feature
    has_access: bool
    limit: Decimal | None = None
    usage: Decimal | None = None
    remaining: Decimal | None = None
    value: str | None = None
    hard: bool | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    alerts: tuple[int, ...] = field(default_factory=tuple)

    @property
    def type(self) -> str:
        return self.feature.type

    @property
    def percent_used(self) -> Decimal | None:
        """Usage as a percent of the limit (for the admin's bars); None when unlimited."""
        if self.limit is None or self.usage is None:
            return None
        if self.limit == 0:
            return Decimal("100") if self.usage > 0 else ZERO
        return self.usage * 100 / self.limit


def live_subscription(*, customer: Customer) -> Subscription | None:
    """The customer's live (trialing or active) subscription: at most one exists."""
    return (
        Subscription.objects.filter(customer=customer, status__in=LIVE_STATUSES)
        .select_related("plan", "customer")
        .first()
    )


def subscription_grants(*, subscription: Subscription, code: str | None = None) -> list[Grant]:
    """The plan's grants with the subscription's overrides applied (a disabled override takes
    the feature away; an override of a feature the plan lacks grants it), by feature code."""
    plan_grants = PlanFeature.objects.filter(plan_id=subscription.plan_id).select_related(
        "feature__meter"
    )
    overrides = SubscriptionFeature.objects.filter(subscription=subscription).select_related(
        "feature__meter"
    )
    if code is not None:
        plan_grants = plan_grants.filter(feature__code=code)
        overrides = overrides.filter(feature__code=code)
    grants = {grant.feature.code: grant for grant in plan_grants}
    for override in overrides:
        if not override.enabled:
            grants.pop(override.feature.code, None)
        else:
            grants[override.feature.code] = override
    return [
        Grant(
            feature=grant.feature,
            limit=grant.limit,
            hard=grant.hard,
            value=grant.value,
            alerts=tuple(grant.alerts or ()),
        )
        for _, grant in sorted(grants.items())
    ]


def grant_entitlement(grant: Grant, subscription: Subscription, at: datetime) -> Entitlement:
    """The entitlement one grant gives the subscription at `at` (usage read for a metered one)."""
    feature = grant.feature
    if feature.type == FeatureType.BOOLEAN:
        return Entitlement(feature=feature, has_access=True)
    if feature.type == FeatureType.STATIC:
        return Entitlement(feature=feature, has_access=True, value=grant.value)
    period = _period_at(subscription, at)
    if period is None:  # outside the subscription's billed life: nothing to count
        return Entitlement(feature=feature, has_access=False, limit=grant.limit, hard=grant.hard)
    meter = feature.meter
    start = subscription.started_at if meter.reset == "never" else period.start
    usage = usage_for_period(
        meter=meter,
        external_customer_id=subscription.customer.external_id,
        start=start,
        end=period.end,
    ).quantity
    limit = grant.limit
    reached = limit is not None and usage >= limit
    return Entitlement(
        feature=feature,
        has_access=not (reached and grant.hard),
        limit=limit,
        usage=usage,
        remaining=None if limit is None else max(limit - usage, ZERO),
        hard=grant.hard,
        period_start=period.start,
        period_end=period.end,
        alerts=grant.alerts,
    )


def _period_at(subscription: Subscription, at: datetime) -> Period | None:
    """The billing period holding `at`: the stored current period when `at` is in it (no
    query), else computed from the phases."""
    start, end = subscription.current_period_start, subscription.current_period_end
    if start is not None and end is not None and start <= at < end:
        return Period(start=start, end=end, index=0, full_start=start, full_end=end)
    return subscription_period_at(subscription=subscription, at=at)


def customer_entitlements(*, customer: Customer, at: datetime) -> list[Entitlement]:
    """Every feature the customer's live subscription grants, with usage where metered."""
    subscription = live_subscription(customer=customer)
    if subscription is None:
        return []
    return [
        grant_entitlement(grant, subscription, at)
        for grant in subscription_grants(subscription=subscription)
    ]


def entitlement_check(*, external_id: str, code: str, at: datetime) -> Entitlement:
    """One feature of the customer's (external id) live subscription: granted or not (a feature
    not granted: has_access false, nothing else), in as few round trips as the answer allows
    (the API's hot path): one for the subscription with its customer and plan, one for the
    feature with its plan grant and override, then the usage.

    Raises Customer.DoesNotExist or Feature.DoesNotExist.
    """
    subscription = (
        Subscription.objects.filter(customer__external_id=external_id, status__in=LIVE_STATUSES)
        .select_related("customer", "plan")
        .first()
    )
    if subscription is None:
        Customer.objects.only("pk").get(external_id=external_id)
        return Entitlement(feature=Feature.objects.get(code=code), has_access=False)
    feature = (
        Feature.objects.select_related("meter")
        .annotate(
            plan_grant=FilteredRelation(
                "grants", condition=Q(grants__plan_id=subscription.plan_id)
            ),
            override=FilteredRelation(
                "overrides", condition=Q(overrides__subscription_id=subscription.pk)
            ),
        )
        .annotate(**{f"grant_{name}": F(f"plan_grant__{name}") for name in GRANT_COLUMNS})
        .annotate(**{f"override_{name}": F(f"override__{name}") for name in OVERRIDE_COLUMNS})
        .get(code=code)
    )
    if feature.override_id is not None:
        if not feature.override_enabled:
            return Entitlement(feature=feature, has_access=False)
        prefix = "override"
    elif feature.grant_id is not None:
        prefix = "grant"
    else:
        return Entitlement(feature=feature, has_access=False)
    grant = Grant(
        feature=feature,
        limit=getattr(feature, f"{prefix}_limit"),
        hard=getattr(feature, f"{prefix}_hard"),
        value=getattr(feature, f"{prefix}_value"),
        alerts=tuple(getattr(feature, f"{prefix}_alerts") or ()),
    )
    return grant_entitlement(grant, subscription, at)


GRANT_COLUMNS = ("id", "limit", "hard", "value", "alerts")
OVERRIDE_COLUMNS = ("id", "enabled", "limit", "hard", "value", "alerts")
