"""Catalog API views (docs/api.md): meters, plans (latest version, versions), price preview.

Each view validates its body with a serializer and calls one service or selector; refusals come
back as field errors (400), an existing code as 409, an unknown code as 404.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import PAGE_PARAMETERS, paginated, parse_id
from catalog.models import Feature, Meter, Plan
from catalog.selectors import (
    plan_get,
    plan_versions,
    plans_latest,
    plans_with_details,
    price_preview_from_values,
)
from catalog.serializers import (
    FeatureSerializer,
    MeterSerializer,
    PlanInputSerializer,
    PlanSerializer,
    PlanVersionSerializer,
    PricePreviewInputSerializer,
    PricePreviewSerializer,
)
from catalog.services import meter_create, meter_update, plan_create, plan_update
from catalog.services.features import feature_create

FIELD_ERRORS = OpenApiResponse(description='Field errors, e.g. {"charges": {"0": {...}}}.')
NOT_FOUND = OpenApiResponse(description="No such code.")
CONFLICT = OpenApiResponse(description="The code is taken.")


def _meter(code: str) -> Meter:
    try:
        return Meter.objects.get(code=code)
    except Meter.DoesNotExist:
        raise NotFound(f"No meter with code {code!r}.") from None


def _plan(code: str, version: str | None = None) -> Plan:
    number = None if version in (None, "") else parse_id(version)
    if version not in (None, "") and number is None:
        raise serializers.ValidationError({"version": ["A whole number."]})
    try:
        plan = plan_get(code=code, version=number)
    except Plan.DoesNotExist:
        suffix = f" version {number}" if number else ""
        raise NotFound(f"No plan with code {code!r}{suffix}.") from None
    return plans_with_details().get(pk=plan.pk)


class MeterListView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=PAGE_PARAMETERS, responses=MeterSerializer(many=True), summary="List meters"
    )
    def get(self, request):
        return paginated(request, self, Meter.objects.order_by("code"), MeterSerializer)

    @extend_schema(
        request=MeterSerializer,
        responses={201: MeterSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
        summary="Create a meter",
    )
    def post(self, request):
        serializer = MeterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        meter = meter_create(**serializer.validated_data)
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


class MeterDetailView(APIView):
    @extend_schema(responses={200: MeterSerializer, 404: NOT_FOUND}, summary="Get a meter")
    def get(self, request, code: str):
        return Response(MeterSerializer(_meter(code)).data)

    @extend_schema(
        request=MeterSerializer(partial=True),
        responses={200: MeterSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
        summary="Change a meter (its counting rules are locked while plans in use price it)",
    )
    def patch(self, request, code: str):
        meter = _meter(code)
        serializer = MeterSerializer(meter, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        meter = meter_update(meter=meter, **serializer.validated_data)
        return Response(MeterSerializer(meter).data)


class PlanListView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=PlanSerializer(many=True),
        summary="List plans (the latest version of each)",
    )
    def get(self, request):
        return paginated(request, self, plans_with_details(plans_latest()), PlanSerializer)

    @extend_schema(
        request=PlanInputSerializer,
        responses={201: PlanSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
        summary="Create a plan with its charges and tiers",
    )
    def post(self, request):
        serializer = PlanInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = plan_create(**serializer.validated_data)
        plan = plans_with_details().get(pk=plan.pk)
        return Response(PlanSerializer(plan, context={}).data, status=status.HTTP_201_CREATED)


VERSION_PARAMETER = OpenApiParameter(
    "version", int, description="A given version (default: the latest)."
)


class PlanDetailView(APIView):
    @extend_schema(
        parameters=[VERSION_PARAMETER],
        responses={200: PlanSerializer, 404: NOT_FOUND},
        summary="Get a plan (its latest version unless ?version=)",
    )
    def get(self, request, code: str):
        plan = _plan(code, request.query_params.get("version"))
        return Response(PlanSerializer(plan, context={}).data)

    @extend_schema(
        request=PlanInputSerializer(partial=True),
        responses={200: PlanSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
        summary="Change a plan: in place while unused, else as a new version",
        description="`charges`, when given, replaces all the plan's charges. When a "
        "subscription uses the latest version, the change creates version + 1 (returned); "
        "subscriptions keep their version.",
    )
    def patch(self, request, code: str):
        plan = _plan(code)
        serializer = PlanInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        plan = plan_update(plan=plan, **serializer.validated_data)
        plan = plans_with_details().get(pk=plan.pk)
        return Response(PlanSerializer(plan, context={}).data)


class PlanVersionsView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={200: PlanVersionSerializer(many=True), 404: NOT_FOUND},
        summary="List a plan's versions, newest first",
    )
    def get(self, request, code: str):
        versions = plans_with_details(plan_versions(code=code))
        if not versions:
            raise NotFound(f"No plan with code {code!r}.")
        return paginated(request, self, versions, PlanVersionSerializer)


class PricePreviewView(APIView):
    @extend_schema(
        request=PricePreviewInputSerializer,
        responses={200: PricePreviewSerializer, 400: FIELD_ERRORS},
        summary="Price a quantity with one charge (the rating engine on its own)",
    )
    def post(self, request):
        serializer = PricePreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preview = price_preview_from_values(**serializer.validated_data)
        return Response(PricePreviewSerializer(preview).data)


class FeatureListView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=FeatureSerializer(many=True),
        summary="List features",
        tags=["entitlements"],
    )
    def get(self, request):
        features = Feature.objects.select_related("meter").order_by("code")
        return paginated(request, self, features, FeatureSerializer)

    @extend_schema(
        request=FeatureSerializer,
        responses={201: FeatureSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
        summary="Create a feature (boolean, metered on a meter, or static)",
        tags=["entitlements"],
    )
    def post(self, request):
        serializer = FeatureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feature = feature_create(**serializer.validated_data)
        return Response(FeatureSerializer(feature).data, status=status.HTTP_201_CREATED)


class FeatureDetailView(APIView):
    @extend_schema(
        responses={200: FeatureSerializer, 404: NOT_FOUND},
        summary="Get a feature",
        tags=["entitlements"],
    )
    def get(self, request, code: str):
        feature = Feature.objects.select_related("meter").filter(code=code).first()
        if feature is None:
            raise NotFound(f"Unknown feature {code!r}.")
        return Response(FeatureSerializer(feature).data)
