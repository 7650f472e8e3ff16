"""A subscription's overrides of its plan's feature grants (docs/api.md, "Entitlements")."""

from collections.abc import Mapping

from django.db import transaction

from billing.errors import AppError
from catalog.models import Feature
from catalog.services.features import grant_terms
from customers.models import Subscription, SubscriptionFeature


@transaction.atomic
def subscription_feature_override(
    *, subscription: Subscription, feature: Feature, values: Mapping
) -> SubscriptionFeature:
    """Set the subscription's own grant of `feature` (`enabled`: false takes it away; limit,
    hard, value, alerts as in a plan's grant), replacing an earlier override."""
    enabled = values.get("enabled", True)
    terms, errors = grant_terms(feature=feature, values=values)
    if not isinstance(enabled, bool):
        errors["enabled"] = ["true or false."]
    if errors:
        raise AppError(errors)
    override, _ = SubscriptionFeature.objects.update_or_create(
        subscription=subscription, feature=feature, defaults={"enabled": enabled, **terms}
    )
    return override


@transaction.atomic
def subscription_feature_override_remove(*, subscription: Subscription, feature: Feature) -> bool:
    """Back to the plan's grant; False when there was no override."""
    deleted, _ = SubscriptionFeature.objects.filter(
        subscription=subscription, feature=feature
    ).delete()
    return bool(deleted)
