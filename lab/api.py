"""The backtests API (docs/api.md, "Backtests"): start one (202, run as a task) and read it."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import NOT_FOUND
from lab.models import Backtest
from lab.selectors import backtest_as_dict, backtest_get
from lab.services import MAX_CUSTOMERS_LISTED, MAX_SAMPLE, BacktestRefused, backtest_create

MAX_ROWS_PER_PAGE = 1000


class BacktestInputSerializer(serializers.Serializer):
    plan = serializers.CharField(max_length=100, help_text="The draft plan's code.")
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The plan version; its latest when absent."
    )
    customers = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=MAX_CUSTOMERS_LISTED,
        help_text="External ids; absent: every subscriber of the plan (or a sample).",
    )
    sample = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLE, required=False)
    # "from" is a Python keyword: declared below under its JSON name.

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField()
        fields["to"] = serializers.DateTimeField()
        return fields

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        for name in ("from", "to"):
            parsed = parse_datetime(str(self.initial_data[name]))
            if parsed is None or parsed.tzinfo is None:
                raise serializers.ValidationError(
                    {name: ["An ISO 8601 timestamp with an offset, e.g. 2026-01-01T00:00:00Z."]}
                )
        return attrs


def _backtest_or_404(backtest_id: str) -> Backtest:
    if not (backtest_id.isascii() and backtest_id.isdigit()) or len(backtest_id) > 18:
        raise NotFound(f"Unknown backtest {backtest_id}.")
    try:
        return backtest_get(backtest_id=int(backtest_id))
    except Backtest.DoesNotExist:
        raise NotFound(f"Unknown backtest {backtest_id}.") from None


def _page_parameter(request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > maximum:
        raise ValidationError({name: [f"A whole number from 0 to {maximum}."]})
    return int(raw)


class BacktestListView(APIView):
    @extend_schema(
        summary="Backtest a draft plan on past usage (202: it runs as a task)",
        request=BacktestInputSerializer,
        responses={202: dict, 404: NOT_FOUND},
        tags=["backtests"],
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "The body must be a JSON object."})
        serializer = BacktestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        try:
            backtest = backtest_create(
                plan_code=values["plan"],
                version=values.get("version"),
                customers=values.get("customers"),
                sample=values.get("sample"),
                period_from=values["from"],
                period_to=values["to"],
                requested_by=str(request.user),
                at=timezone.now(),
            )
        except BacktestRefused as refusal:
            if refusal.not_found:
                raise NotFound(refusal.message) from None
            raise ValidationError({"detail": refusal.message}) from None
        return Response(
            {"id": backtest.pk, "status": backtest.status}, status=status.HTTP_202_ACCEPTED
        )


class BacktestDetailView(APIView):
    @extend_schema(
        summary="A backtest: status, progress, totals, per-charge movement, per-customer rows",
        parameters=[
            OpenApiParameter("offset", int, description="Rows to skip (default 0)."),
            OpenApiParameter(
                "limit", int, description=f"Rows (default and at most {MAX_ROWS_PER_PAGE})."
            ),
        ],
        responses=dict,
        tags=["backtests"],
    )
    def get(self, request, backtest_id: str):
        backtest = _backtest_or_404(backtest_id)
        offset = _page_parameter(request, "offset", 0, 10**9)
        limit = _page_parameter(request, "limit", MAX_ROWS_PER_PAGE, MAX_ROWS_PER_PAGE)
        return Response(backtest_as_dict(backtest=backtest, offset=offset, limit=limit))
