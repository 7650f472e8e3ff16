"""Usage alerts of feature grants (docs/api.md, "Entitlements"): when a metered feature's usage
reaches a grant's alert percent of its limit, the customer is told (the quota-warning email and
the entitlement.threshold_reached webhook) once per grant, threshold and period. Run by the
entitlement-alerts schedule; an alert row records each threshold reached."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from customers.models import LIVE_STATUSES, Subscription
from metering.models import EntitlementAlert
from metering.selectors.entitlements import grant_entitlement, subscription_grants
from metering.signals import entitlement_threshold_reached


def subscription_alerts_check(
    *, subscription: Subscription, at: datetime
) -> list[EntitlementAlert]:
    """Write the alerts the subscription's usage has reached and not yet had this period; the
    highest new threshold of a grant is announced, lower ones reached at once are recorded."""
    written = []
    for grant in subscription_grants(subscription=subscription):
        if not grant.alerts or grant.limit is None:
            continue
        entitlement = grant_entitlement(grant, subscription, at)
        if entitlement.usage is None or entitlement.period_start is None:
            continue
        reached = [
            percent for percent in grant.alerts if entitlement.usage * 100 >= grant.limit * percent
        ]
        if not reached:
            continue
        already = set(
            EntitlementAlert.objects.filter(
                subscription=subscription,
                feature=grant.feature,
                period_start=entitlement.period_start,
            ).values_list("threshold", flat=True)
        )
        new = [percent for percent in reached if percent not in already]
        for percent in new:
            alert = _alert_write(
                subscription=subscription,
                entitlement=entitlement,
                threshold=percent,
                notified=percent == max(new),
                at=at,
            )
            if alert is not None:
                written.append(alert)
    return written


def _alert_write(*, subscription, entitlement, threshold, notified, at) -> EntitlementAlert | None:
    try:
        with transaction.atomic():
            alert = EntitlementAlert.objects.create(
                customer=subscription.customer,
                subscription=subscription,
                feature=entitlement.feature,
                period_start=entitlement.period_start,
                period_end=entitlement.period_end,
                threshold=threshold,
                limit=entitlement.limit,
                usage=entitlement.usage,
                notified=notified,
                created_at=at,
            )
            if notified:
                entitlement_threshold_reached.send(sender=EntitlementAlert, alert=alert, at=at)
            return alert
    except IntegrityError:  # another run wrote it first: it is sent once
        return None


def entitlement_alerts_check(*, at: datetime) -> int:
    """Every live subscription whose plan or overrides have usage alerts; the alerts written."""
    with_alerts = (
        Subscription.objects.filter(status__in=LIVE_STATUSES)
        .filter(Q(plan__feature_grants__isnull=False) | Q(feature_overrides__isnull=False))
        .select_related("customer", "plan")
        .distinct()
        .order_by("pk")
    )
    return sum(
        len(subscription_alerts_check(subscription=subscription, at=at))
        for subscription in with_alerts
    )
