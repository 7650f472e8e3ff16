"""Shared API plumbing: errors mapped to HTTP once, JSON parsing, ids, query text and paging.

Every answer under /api/ is JSON, the unexpected included (docs/api.md "Errors"):
`exception_handler` maps the application error (`billing.errors.AppError`) and Django's own
refusals to 4xx, and `api_error_response` answers what reaches no view (unknown URL, a crash).
"""

import json
import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from billing.errors import AppError, ErrorKind
from billing.parsers import UNSTORABLE, UNSTORABLE_MESSAGE
from billing.throttling import failed_auth_record

logger = logging.getLogger(__name__)

STATUS_OF_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
}
MAX_QUERY_TEXT = 255
MAX_ID = 10**18 - 1  # fits a bigint

# Paging (docs/api.md "Lists"): every list is bounded.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 10**9


def _body_of(exc: AppError):
    if isinstance(exc.detail, dict):
        # DRF's rendering of field errors: each leaf a list of messages, nesting kept.
        return serializers.ValidationError(exc.detail).detail
    return {"detail": " ".join(exc.messages)}


def exception_handler(exc, context):
    """The one mapping of errors to HTTP for the whole API; never an HTML 500.

    AppError by its kind (400/404/409), Django's ValidationError → 400, an IntegrityError (a
    race lost to a unique constraint) → 409, a DataError (a value the database cannot hold) →
    400, then DRF's own exceptions; anything else is logged and answered as a JSON 500.
    """
    if isinstance(exc, AppError):
        return Response(_body_of(exc), status=STATUS_OF_KIND[exc.kind])
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        return Response(
            {"detail": "Conflicts with an existing record."}, status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, DataError):
        return Response(
            {"detail": "A value is out of the range the database can store."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        failed_auth_record(context["request"])
    response = drf_exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        logger.exception("Unhandled error in %s", getattr(request, "path", "the API"))
        return Response(
            {"detail": "Internal error; it has been logged."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return response


def api_error_response(request, *, status_code: int, default):
    """JSON for /api/ paths that reach no view (404) or fail outside one; HTML elsewhere."""
    if request.path.startswith("/api/"):
        messages = {
            400: "Bad request.",
            403: "Forbidden.",
            404: "Not found.",
            500: "Internal error; it has been logged.",
        }
        return JsonResponse({"detail": messages[status_code]}, status=status_code)
    return default


# --- input ---------------------------------------------------------------------------------


MAX_METADATA_BYTES = 16_384


def validate_metadata(value) -> None:
    """Metadata (customers, subscriptions, plans): at most 16 KB of JSON (its shape is
    checked by each service)."""
    if value is None:
        return
    if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
        raise serializers.ValidationError(f"At most {MAX_METADATA_BYTES} bytes of JSON.")


def parse_id(text: str) -> int | None:
    """A plain id that fits a bigint, or None (an id in a path never answers with a 500)."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def query_text(request, name: str, *, max_length: int = MAX_QUERY_TEXT) -> str:
    """A query parameter's text, stripped; 400 when too long or unstorable."""
    value = request.query_params.get(name, "").strip()
    if len(value) > max_length:
        raise serializers.ValidationError({name: [f"At most {max_length} characters."]})
    if UNSTORABLE.search(value):
        raise serializers.ValidationError({name: [UNSTORABLE_MESSAGE]})
    return value


def query_choice(request, name: str, choices: list[str]) -> str:
    """A query parameter that must be one of `choices` (or absent)."""
    value = query_text(request, name)
    if value and value not in choices:
        raise serializers.ValidationError(
            {name: [f"Unknown {name} '{value}': choose one of {', '.join(choices)}."]}
        )
    return value


# --- lists -----------------------------------------------------------------------------------


class ListPagination(LimitOffsetPagination):
    """Every list is bounded (docs/api.md "Lists").

    Without `limit`: a plain JSON array of the first `DEFAULT_PAGE_SIZE` items (the shape
    integrations already read), with `X-Total-Count` and, when more remain, a `Link: <…>;
    rel="next"` header. With `limit` (1..`MAX_PAGE_SIZE`) and/or `offset`: a page object
    `{"count", "next", "previous", "results"}`. A bad limit or offset → 400.
    """

    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        self.page_form = self.limit_query_param in params or self.offset_query_param in params
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        number = _bounded_int(raw)
        if number is None or not 1 <= number <= self.max_limit:
            raise serializers.ValidationError(
                {self.limit_query_param: [f"A whole number from 1 to {self.max_limit}."]}
            )
        return number

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        number = _bounded_int(raw)
        if number is None or not 0 <= number <= MAX_OFFSET:
            raise serializers.ValidationError(
                {self.offset_query_param: [f"A whole number from 0 to {MAX_OFFSET}."]}
            )
        return number

    def plain_response(self, data) -> Response:
        headers = {"X-Total-Count": str(self.count)}
        next_link = self.get_next_link()
        if next_link:
            headers["Link"] = f'<{next_link}>; rel="next"'
        return Response(data, headers=headers)

    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)


def _bounded_int(raw: str) -> int | None:
    raw = raw.strip()
    if not raw or len(raw) > 12 or not (raw.isascii() and raw.lstrip("-").isdigit()):
        return None
    return int(raw)


def paginated(request, view, items, serializer_class, *, context=None) -> Response:
    """One list answer: a bounded plain array, or a page object when limit/offset is given."""
    paginator = ListPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    if paginator.page_form:
        return paginator.get_paginated_response(data)
    return paginator.plain_response(data)


PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"Page size, 1 to {MAX_PAGE_SIZE}; with limit or offset the answer is a "
        f"page object. Without both: a plain array of the first {DEFAULT_PAGE_SIZE} items "
        '(`Link: <…>; rel="next"` when more remain).',
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        description=f"0 to {MAX_OFFSET}.",
    ),
]

FIELD_ERRORS = OpenApiResponse(description='Field errors: {"<field>": ["message", ...]}.')
NOT_FOUND = OpenApiResponse(description='{"detail": "…"}: no such resource.')
CONFLICT = OpenApiResponse(description='{"detail": "…"}: conflicts with the current state.')


MAX_IDEMPOTENCY_KEY = 64


def idempotency_key_from(request) -> str:
    """The request's `Idempotency-Key` header ("" when absent); longer than 64 → 400."""
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise serializers.ValidationError(
            {"Idempotency-Key": [f"At most {MAX_IDEMPOTENCY_KEY} characters."]}
        )
    return key
