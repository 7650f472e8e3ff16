"""Views of the invoices API: each reads through a selector or calls one service.

Refusals: an unknown invoice, line or customer → 404; an action the invoice's status does not
allow (finalize a finalized invoice, void a paid one) → 409; a bad filter → 400.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import (
    PAGE_PARAMETERS,
    ListPagination,
    paginated,
    parse_id,
    query_choice,
    query_text,
)
from catalog.currencies import format_money
from catalog.serializers import StrictSerializer
from customers.api.lookups import customer_or_404
from customers.models import Customer
from invoices.api.serializers import EventSerializer, InvoiceSerializer, LineEventsSerializer
from invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from invoices.selectors import (
    NoUpcomingInvoice,
    invoice_get,
    invoice_line_events,
    invoice_list,
    upcoming_invoice,
)
from invoices.services import (
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_void,
)
from invoices.usage import CustomerUsage, customer_usage
from rating.money import decimal_string

NOT_FOUND = OpenApiResponse(description='{"detail": "Unknown invoice 12."}')
CONFLICT = OpenApiResponse(description="The invoice's status does not allow it.")
MAX_EVENTS = 1000


def _invoice_or_404(invoice_id: str) -> Invoice:
    number = parse_id(invoice_id)
    try:
        if number is None:
            raise Invoice.DoesNotExist
        return invoice_get(invoice_id=number)
    except Invoice.DoesNotExist:
        raise NotFound(f"Unknown invoice {invoice_id}.") from None


def _shown(request, invoice: Invoice) -> Response:
    return Response(InvoiceSerializer(invoice, context={"request": request}).data)


class InvoiceListView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str, description="A customer's external id."),
            OpenApiParameter("status", str, enum=InvoiceStatus.values),
            OpenApiParameter("kind", str, enum=InvoiceKind.values),
            *PAGE_PARAMETERS,
        ],
        responses=InvoiceSerializer(many=True),
    )
    def get(self, request):
        invoices = invoice_list(
            customer_external_id=query_text(request, "customer"),
            status=query_choice(request, "status", InvoiceStatus.values),
            kind=query_choice(request, "kind", InvoiceKind.values),
        )
        return paginated(request, self, invoices, InvoiceSerializer, context={"request": request})


class InvoiceDetailView(APIView):
    @extend_schema(responses={200: InvoiceSerializer, 404: NOT_FOUND})
    def get(self, request, invoice_id: str):
        return _shown(request, _invoice_or_404(invoice_id))


class InvoiceLineEventsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS},
                description=f"Events per page (≤ {MAX_EVENTS}).",
            ),
            PAGE_PARAMETERS[1],
        ],
        responses={200: LineEventsSerializer, 404: NOT_FOUND},
        description="The exact events behind a usage line; their aggregation is `quantity`, "
        "equal to the line's quantity while the invoice's usage is unchanged.",
    )
    def get(self, request, invoice_id: str, line_id: str):
        invoice_number, line_number = parse_id(invoice_id), parse_id(line_id)
        try:
            if invoice_number is None or line_number is None:
                raise InvoiceLine.DoesNotExist
            drilldown = invoice_line_events(invoice_id=invoice_number, line_id=line_number)
        except InvoiceLine.DoesNotExist:
            raise NotFound(f"Invoice {invoice_id} has no usage line {line_id}.") from None
        paginator = ListPagination()
        paginator.default_limit, paginator.max_limit = MAX_EVENTS, MAX_EVENTS
        events = paginator.paginate_queryset(drilldown.events, request, view=self)
        body = LineEventsSerializer(drilldown).data
        body["events"] = EventSerializer(events, many=True).data
        body["next"] = paginator.get_next_link()
        return Response(body)


class InvoiceActionView(APIView):
    """POST with no body: one lifecycle service on the invoice."""

    service = None

    @extend_schema(request=None, responses={200: InvoiceSerializer, 404: NOT_FOUND, 409: CONFLICT})
    def post(self, request, invoice_id: str):
        invoice = _invoice_or_404(invoice_id)
        self.service(invoice=invoice, at=timezone.now())
        return _shown(request, invoice_get(invoice_id=invoice.pk))


class InvoiceFinalizeView(InvoiceActionView):
    service = staticmethod(invoice_finalize)


class VoidInput(StrictSerializer):
    reissue = serializers.BooleanField(
        required=False,
        help_text="Bill the period again at the next close (default: true for an issued "
        "invoice, false for a draft).",
    )


class InvoiceVoidView(APIView):
    @extend_schema(
        request=VoidInput,
        responses={200: InvoiceSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="Void a draft, finalized or uncollectible invoice (a paid one once credit "
        "notes credit its whole total). An issued subscription invoice's period is billed "
        "again by the next close unless `reissue` is false (docs/operations.md).",
    )
    def post(self, request, invoice_id: str):
        invoice = _invoice_or_404(invoice_id)
        data = VoidInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        invoice_void(invoice=invoice, at=timezone.now(), reissue=data.validated_data.get("reissue"))
        return _shown(request, invoice_get(invoice_id=invoice.pk))


class InvoiceMarkUncollectibleView(InvoiceActionView):
    service = staticmethod(invoice_mark_uncollectible)


class UpcomingInvoiceView(APIView):
    @extend_schema(
        responses={
            200: InvoiceSerializer,
            404: OpenApiResponse(description="Unknown customer, or no period left to bill."),
        },
        description="The invoice that will close the customer's current period, with the usage "
        "so far: computed by the cycle close's code, unsaved (id and number null).",
    )
    def get(self, request, external_id: str):
        customer = customer_or_404(external_id)
        try:
            draft = upcoming_invoice(customer=customer, at=timezone.now())
        except NoUpcomingInvoice as error:
            raise NotFound(str(error)) from None
        return Response(InvoiceSerializer(draft, context={"request": request}).data)


def _when(moment) -> str:
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
            "billed": money(item.billed),
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
