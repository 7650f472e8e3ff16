"""A subscription's overrides of its plan's feature grants (docs/api.md, "Entitlements")."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import FEATURE_MAX_ALERT_PERCENT, FEATURE_MAX_ALERTS, Feature
from customers.api.fields import StrictSerializer
from customers.api.views import _subscription_or_404
from customers.services.subscription_features import (
    subscription_feature_override,
    subscription_feature_override_remove,
)
from rating import decimal_string


class OverrideInputSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False, help_text="false takes the feature away.")
    limit = serializers.CharField(
        required=False, allow_null=True, max_length=40, help_text="Metered: per period."
    )
    hard = serializers.BooleanField(required=False)
    value = serializers.CharField(required=False, allow_blank=True, max_length=255)
    alerts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=FEATURE_MAX_ALERT_PERCENT),
        required=False,
        max_length=FEATURE_MAX_ALERTS,
    )


class OverrideSerializer(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription_id")
    feature = serializers.CharField(source="feature.code")
    enabled = serializers.BooleanField()
    limit = serializers.SerializerMethodField()
    hard = serializers.BooleanField()
    value = serializers.CharField()
    alerts = serializers.ListField(child=serializers.IntegerField())

    def get_limit(self, override) -> str | None:
        return None if override.limit is None else decimal_string(override.limit)


def _feature_or_404(code: str) -> Feature:
    feature = Feature.objects.filter(code=code).first()
    if feature is None:
        raise NotFound(f"Unknown feature {code!r}.")
    return feature


class SubscriptionFeatureView(APIView):
    @extend_schema(
        request=OverrideInputSerializer,
        responses={200: OverrideSerializer, 400: OpenApiResponse(description="Field errors.")},
        description="Set the subscription's own grant of the feature, replacing the plan's.",
        tags=["entitlements"],
    )
    def put(self, request, subscription_id: str, feature: str):
        subscription = _subscription_or_404(subscription_id)
        found = _feature_or_404(feature)
        serializer = OverrideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        override = subscription_feature_override(
            subscription=subscription, feature=found, values=serializer.validated_data
        )
        return Response(OverrideSerializer(override).data)

    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="No such override.")},
        description="Back to the plan's grant.",
        tags=["entitlements"],
    )
    def delete(self, request, subscription_id: str, feature: str):
        subscription = _subscription_or_404(subscription_id)
        found = _feature_or_404(feature)
        if not subscription_feature_override_remove(subscription=subscription, feature=found):
            raise NotFound(f"Subscription {subscription.pk} does not override {feature!r}.")
        return Response(status=status.HTTP_204_NO_CONTENT)
