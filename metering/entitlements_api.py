"""The entitlement API (docs/api.md, "Entitlements"): what a customer may use right now."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Feature, FeatureType
from customers.api.lookups import customer_or_404
from customers.models import Customer
from metering.selectors.entitlements import customer_entitlements, entitlement_check
from rating.money import decimal_string


def _quantity(value) -> str | None:
    return None if value is None else decimal_string(value)


class EntitlementSerializer(serializers.Serializer):
    feature = serializers.CharField(source="feature.code")
    name = serializers.CharField(source="feature.name")
    type = serializers.ChoiceField(choices=FeatureType.choices)
    has_access = serializers.BooleanField()
    limit = serializers.SerializerMethodField(help_text="Metered: per period; null: unlimited.")
    usage = serializers.SerializerMethodField(
        help_text="Metered: the meter's quantity this period, overage included."
    )
    remaining = serializers.SerializerMethodField()
    value = serializers.CharField(allow_null=True, help_text="Static features: the value.")
    hard = serializers.BooleanField(allow_null=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)

    def get_limit(self, entitlement) -> str | None:
        return _quantity(entitlement.limit)

    def get_usage(self, entitlement) -> str | None:
        return _quantity(entitlement.usage)

    def get_remaining(self, entitlement) -> str | None:
        return _quantity(entitlement.remaining)


class EntitlementListView(APIView):
    @extend_schema(
        responses={
            200: EntitlementSerializer(many=True),
            404: OpenApiResponse(description="Unknown customer."),
        },
        description="Every feature the customer's live subscription grants, in real time.",
        tags=["entitlements"],
    )
    def get(self, request, external_id: str):
        customer = customer_or_404(external_id)
        entitlements = customer_entitlements(customer=customer, at=timezone.now())
        return Response(EntitlementSerializer(entitlements, many=True).data)


class EntitlementDetailView(APIView):
    @extend_schema(
        responses={
            200: EntitlementSerializer,
            404: OpenApiResponse(description="Unknown customer or feature."),
        },
        description="May the customer use this feature now? An event accepted a moment ago "
        "counts. A hard limit reached → has_access false; a soft one → true, the overage in "
        "usage. A feature not granted → has_access false.",
        tags=["entitlements"],
    )
    def get(self, request, external_id: str, feature: str):
        try:
            entitlement = entitlement_check(
                external_id=external_id, code=feature, at=timezone.now()
            )
        except Customer.DoesNotExist:
            raise NotFound(f"Unknown customer '{external_id}'.") from None
        except Feature.DoesNotExist:
            raise NotFound(f"Unknown feature {feature!r}.") from None
        return Response(EntitlementSerializer(entitlement).data)
