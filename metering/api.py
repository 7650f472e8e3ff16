"""Metering API (docs/api.md, "Events"): event ingestion, one or a batch.

The event views parse JSON themselves (`ExactJSONParser`: numbers as Decimal, so 0.1 stays
0.1) and hand the payload to one service. A customer's usage so far, priced by the charge
ledger, is served by the invoices app (invoices.api.views.CustomerUsageView).
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from metering.batch_decoder import BatchDecoder
from metering.services import (
    MAX_BATCH,
    EventBatchInvalid,
    IngestResult,
    event_ingest,
    events_ingest,
    rows_ingest,
)
from metering.validation import EventInvalid, loads

MAX_BODY_BYTES = 10 * 1024 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES} bytes."
    default_code = "payload_too_large"


class ExactJSONParser(BaseParser):
    """JSON with numbers read as Decimal (DRF's parser reads them as float) and NaN refused."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return exact_json(stream)


def exact_json(stream) -> object:
    """The JSON body read from `stream`: 413 past MAX_BODY_BYTES, 400 when it is not JSON."""
    return _parsed(_body(stream))


def _body(stream) -> bytes:
    body = stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    return body


def _parsed(body: bytes) -> object:
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


def event_answer(payload: object) -> tuple[object, int]:
    """POST /events: the answer's body and status for a parsed body (also metering.fast_path)."""
    try:
        result = event_ingest(payload=payload, at=timezone.now())
    except EventInvalid as error:
        return error.errors, status.HTTP_400_BAD_REQUEST
    return _ingested(result)


def batch_answer(payload: object) -> tuple[object, int]:
    """POST /events/batch: the answer's body and status (ParseError/ValidationError raised)."""
    events = _batch_events(payload)
    try:
        result = events_ingest(payloads=events, at=timezone.now())
    except EventBatchInvalid as error:
        return {"errors": error.errors}, status.HTTP_400_BAD_REQUEST
    return _ingested(result)


_BATCH_DECODER = BatchDecoder(max_events=MAX_BATCH)


def batch_answer_stream(stream) -> tuple[object, int]:
    """POST /events/batch from the raw body (metering.fast_path): the batch decoder's rows
    when it takes the body, else `batch_answer` on the parsed body, whose answers they are
    (metering/batch_decoder.py)."""
    body = _body(stream)
    at = timezone.now()
    rows = _BATCH_DECODER.rows(body, at=at)
    if rows is None:
        return batch_answer(_parsed(body))
    return _ingested(rows_ingest(rows=rows, at=at))


def event_answer_stream(stream) -> tuple[object, int]:
    """POST /events from the raw body (metering.fast_path)."""
    return event_answer(exact_json(stream))


def _ingested(result: IngestResult) -> tuple[dict, int]:
    return {"accepted": result.accepted, "duplicates": result.duplicates}, status.HTTP_202_ACCEPTED


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
        body, status_code = event_answer(request.data)
        return Response(body, status=status_code)


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
        body, status_code = batch_answer(request.data)
        return Response(body, status=status_code)


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
