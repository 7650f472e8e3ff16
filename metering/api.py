"""Metering API (DESIGN §4): event ingestion, one or a batch, and a customer's usage so far.

The event views parse JSON themselves (`ExactJSONParser`: numbers as Decimal, so 0.1 stays
0.1) and hand the payload to one service; the usage view calls one selector.
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.currencies import format_money
from customers.models import Customer
from metering.selectors import CustomerUsage, customer_usage
from metering.services import (
    MAX_BATCH,
    EventBatchInvalid,
    IngestResult,
    event_ingest,
    events_ingest,
)
from metering.validation import EventInvalid, loads
from rating.money import decimal_string

MAX_BODY_BYTES = 10 * 1024 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES} bytes."
    default_code = "payload_too_large"


class ExactJSONParser(BaseParser):
    """JSON with numbers read as Decimal (DRF's parser reads them as float) and NaN refused."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            return loads(body)
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from error


class EventInputSerializer(serializers.Serializer):
    """The event shape, for the OpenAPI schema only (validation is metering.validation)."""

    event_id = serializers.CharField(
        required=False, max_length=255, help_text="Idempotency key; generated when absent."
    )
    event_name = serializers.CharField(max_length=200)
    external_customer_id = serializers.CharField(max_length=255)
    timestamp = serializers.DateTimeField(
        required=False, help_text="ISO 8601 with an offset; default now; ≤ 5 minutes ahead."
    )
    properties = serializers.DictField(required=False)


INGEST_RESULT = inline_serializer(
    "IngestResult",
    {"accepted": serializers.IntegerField(), "duplicates": serializers.IntegerField()},
)


def _ingested(result: IngestResult) -> Response:
    return Response(
        {"accepted": result.accepted, "duplicates": result.duplicates},
        status=status.HTTP_202_ACCEPTED,
    )


class EventCreateView(APIView):
    parser_classes = [ExactJSONParser]
    api_ingestion_endpoint = True  # an `ingest` API key may call it (billing/permissions.py)

    @extend_schema(
        summary="Send one event",
        request=EventInputSerializer,
        responses={
            202: INGEST_RESULT,
            400: OpenApiResponse(description='Field errors, e.g. {"timestamp": ["…"]}.'),
        },
        tags=["events"],
    )
    def post(self, request):
        try:
            result = event_ingest(payload=request.data, at=timezone.now())
        except EventInvalid as error:
            return Response(error.errors, status=status.HTTP_400_BAD_REQUEST)
        return _ingested(result)


class EventBatchView(APIView):
    parser_classes = [ExactJSONParser]
    api_ingestion_endpoint = True  # an `ingest` API key may call it (billing/permissions.py)

    @extend_schema(
        summary=f"Send up to {MAX_BATCH} events, all or nothing",
        request=inline_serializer("EventBatch", {"events": EventInputSerializer(many=True)}),
        responses={
            202: INGEST_RESULT,
            400: OpenApiResponse(
                description='{"errors": {"<index>": {field: [messages]}}}; nothing stored.'
            ),
        },
        tags=["events"],
    )
    def post(self, request):
        events = _batch_events(request.data)
        try:
            result = events_ingest(payloads=events, at=timezone.now())
        except EventBatchInvalid as error:
            return Response({"errors": error.errors}, status=status.HTTP_400_BAD_REQUEST)
        return _ingested(result)


def _batch_events(body: object) -> list:
    """The `events` list of a batch body, or a 400 saying what is wrong with its shape."""
    if type(body) is not dict:
        raise ParseError('Send a JSON object: {"events": [...]}.')
    errors = {name: ["Unknown field. A batch has: events."] for name in body if name != "events"}
    events = body.get("events")
    if events is None:
        errors["events"] = ["This field is required."]
    elif type(events) is not list:
        errors["events"] = ["Must be a list of events."]
    elif not events:
        errors["events"] = ["Send at least one event."]
    elif len(events) > MAX_BATCH:
        errors["events"] = [f"At most {MAX_BATCH} events per batch; this one has {len(events)}."]
    if errors:
        raise serializers.ValidationError(errors)
    return events


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _usage_json(report: CustomerUsage) -> dict:
    currency = report.currency

    def money(amount):
        return None if amount is None else format_money(amount, currency)

    meters = []
    for item in report.meters:
        meter = item.meter
        entry = {
            "meter": meter.code,
            "name": meter.name,
            "aggregation": meter.aggregation,
            "unit": meter.unit,
            "reset": meter.reset,
            "start": _when(item.start),
            "end": _when(item.end),
            "quantity": decimal_string(item.usage.quantity),
            "event_count": item.usage.event_count,
            "amount": money(item.amount),
        }
        if item.amount_error:
            entry["amount_error"] = item.amount_error
        if meter.group_by:
            entry["group_by"] = meter.group_by
            entry["groups"] = [
                {
                    "group": group.group,
                    "quantity": decimal_string(group.quantity),
                    "event_count": group.event_count,
                }
                for group in item.groups
            ]
        meters.append(entry)
    return {
        "customer": report.customer.external_id,
        "subscription": None if report.subscription is None else report.subscription.pk,
        "plan": None if report.plan is None else report.plan.code,
        "currency": currency,
        "period_start": _when(report.period_start),
        "period_end": _when(report.period_end),
        "amount": money(report.amount),
        "meters": meters,
    }


class CustomerUsageView(APIView):
    @extend_schema(
        summary="Usage so far in the current period, per meter, with its amount",
        responses={
            200: OpenApiResponse(
                description="{customer, subscription, plan, currency, period_start, "
                "period_end, amount, meters: [{meter, quantity, event_count, amount, …}]}"
            ),
            404: OpenApiResponse(description="No such customer."),
        },
        tags=["usage"],
    )
    def get(self, request, external_id: str):
        try:
            report = customer_usage(external_customer_id=external_id, at=timezone.now())
        except Customer.DoesNotExist:
            raise NotFound(f"No customer with external_id {external_id!r}.") from None
        return Response(_usage_json(report))
