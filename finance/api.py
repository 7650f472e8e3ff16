"""The finance API (docs/api.md, "Finance"): the monthly revenue report, the CSV exports for a
date range, and the receivables aging. Reads only: a `read` key may call them."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import query_text
from finance.exports import export_response
from finance.ranges import MAX_EXPORT_DAYS, MAX_REPORT_MONTHS, date_range, month_range, parse_day
from finance.reports import aging_as_dict, revenue_as_dict
from finance.selectors import receivables_aging, revenue_report


class JsonErrorsNegotiation(BaseContentNegotiation):
    """A CSV endpoint answers CSV (a streamed response of its own) and its refusals in JSON,
    whatever the client's Accept header says (no 406 for `Accept: text/csv`)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RevenueView(APIView):
    @extend_schema(
        summary="Revenue billed, recognised, deferred and unbilled per month, per currency",
        parameters=[
            OpenApiParameter(
                "from", str, description="First month, YYYY-MM (default: 11 months before 'to')."
            ),
            OpenApiParameter("to", str, description="Last month, YYYY-MM (default: this month)."),
            OpenApiParameter("currency", str, description="Only this currency (ISO 4217)."),
        ],
        responses=OpenApiTypes.OBJECT,
        tags=["finance"],
        description=f"At most {MAX_REPORT_MONTHS} months.",
    )
    def get(self, request):
        months = month_range(
            query_text(request, "from"), query_text(request, "to"), today=timezone.now().date()
        )
        report = revenue_report(
            first_month=months.first,
            last_month=months.last,
            currency=query_text(request, "currency"),
        )
        return Response(revenue_as_dict(report, first=months.first, last=months.last))


class ExportView(APIView):
    content_negotiation_class = JsonErrorsNegotiation
    kind = ""

    def get(self, request):
        dates = date_range(query_text(request, "from"), query_text(request, "to"))
        return export_response(kind=self.kind, dates=dates)


def export_view(kind: str, what: str):
    """The view class of one export, with its own schema entry."""
    decorated = extend_schema(
        summary=f"{what} for a date range, as CSV",
        parameters=[
            OpenApiParameter("from", str, required=True, description="First day, YYYY-MM-DD."),
            OpenApiParameter("to", str, required=True, description="Last day, YYYY-MM-DD."),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["finance"],
        description=f"At most {MAX_EXPORT_DAYS} days, UTC; streamed.",
    )

    def get(self, request):  # a function of its own: the schema is stored on it
        return ExportView.get(self, request)

    name = f"Export{kind.title().replace('-', '')}View"
    return type(name, (ExportView,), {"kind": kind, "get": decorated(get)})


class ReceivablesAgingView(APIView):
    @extend_schema(
        summary="Receivables aging: what each customer owes by days past due, per currency",
        parameters=[
            OpenApiParameter("as_of", str, description="YYYY-MM-DD (UTC; default today)."),
        ],
        responses=OpenApiTypes.OBJECT,
        tags=["finance"],
    )
    def get(self, request):
        text = query_text(request, "as_of")
        as_of = parse_day(text, name="as_of") if text else timezone.now().date()
        return Response(aging_as_dict(receivables_aging(as_of=as_of)))
