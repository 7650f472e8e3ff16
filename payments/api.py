"""The payments API (docs/api.md §6): list payments, record a manual one, attempt the saved
payment method now, refund. Each view validates with a serializer and calls one service.

Refusals: unknown invoice or payment → 404; bad input or an over-payment → 400; an invoice or
payment whose status does not allow it, no saved payment method, or the gateway off → 409;
Stripe out of reach → 503.
"""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import idempotency_key_from, paginated, parse_id
from billing.errors import AppError
from catalog.currencies import format_money
from catalog.serializers import StrictSerializer
from invoices.models import Invoice
from payments.gateway import GatewayError
from payments.models import Payment
from payments.selectors import payment_list
from payments.services import (
    MANUAL_METHODS,
    invoice_attempt_payment,
    payment_record_manual,
    payment_refund,
)
from payments.services.manual import MAX_REFERENCE

MAX_AMOUNT_DIGITS = 14  # whole-unit digits: within the ledger's max_digits=20, decimal_places=6


class GatewayUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Stripe could not be reached; the attempt will be retried."
    default_code = "gateway_unavailable"


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """An amount of the payment's currency as a decimal string."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return value


class RefundSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.SerializerMethodField()
    stripe_refund_id = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    refunded_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount(self, refund) -> str:
        return format_money(refund.amount, refund.payment.currency)


class PaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    invoice = serializers.IntegerField(source="invoice_id")
    invoice_number = serializers.CharField(source="invoice.number")
    gateway = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()
    amount_refunded = serializers.SerializerMethodField()
    currency = serializers.CharField()
    method = serializers.CharField()
    reference = serializers.CharField()
    attempt = serializers.IntegerField(allow_null=True)
    stripe_payment_intent_id = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)
    refunds = RefundSerializer(many=True, source="refunds.all")

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount(self, payment) -> str:
        return format_money(payment.amount, payment.currency)

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount_refunded(self, payment) -> str:
        refunded = sum((refund.amount for refund in payment.refunds.all()), Decimal(0))
        return format_money(refunded, payment.currency)


class ManualPaymentInput(StrictSerializer):
    amount = serializers.DecimalField(max_digits=MAX_AMOUNT_DIGITS + 6, decimal_places=6)
    method = serializers.ChoiceField(choices=MANUAL_METHODS)
    reference = serializers.CharField(
        max_length=MAX_REFERENCE, required=False, allow_blank=True, default=""
    )
    paid_at = serializers.DateTimeField(required=False)


class RefundInput(StrictSerializer):
    amount = serializers.DecimalField(
        max_digits=MAX_AMOUNT_DIGITS + 6, decimal_places=6, required=False
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _invoice_or_404(invoice_id: str) -> Invoice:
    number = parse_id(invoice_id)
    invoice = (
        None
        if number is None
        else Invoice.objects.select_related("customer").filter(pk=number).first()
    )
    if invoice is None:
        raise NotFound(f"Unknown invoice {invoice_id}.")
    return invoice


def _payment_or_404(payment_id: str) -> Payment:
    number = parse_id(payment_id)
    payment = None if number is None else payment_list().filter(pk=number).first()
    if payment is None:
        raise NotFound(f"Unknown payment {payment_id}.")
    return payment


def _shown(payment: Payment, code=status.HTTP_200_OK) -> Response:
    return Response(PaymentSerializer(payment_list().get(pk=payment.pk)).data, status=code)


class PaymentListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("invoice", int, description="An invoice id.")],
        responses=PaymentSerializer(many=True),
    )
    def get(self, request):
        invoice = request.query_params.get("invoice", "").strip()
        if invoice and parse_id(invoice) is None:
            raise serializers.ValidationError({"invoice": ["Must be an invoice id."]})
        payments = payment_list(invoice_id=parse_id(invoice) if invoice else None)
        return paginated(request, self, payments, PaymentSerializer)


class InvoicePaymentsView(APIView):
    @extend_schema(
        request=ManualPaymentInput,
        responses={201: PaymentSerializer},
        description="Record a manual payment (bank transfer, cheque, cash, other). An amount "
        "above what is still owed is refused with 400. An `Idempotency-Key` header (≤ 64 "
        "characters) makes a repeated request return the first payment.",
    )
    def post(self, request, invoice_id: str):
        invoice = _invoice_or_404(invoice_id)
        data = ManualPaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency_key_from(request)
        payment = payment_record_manual(
            invoice=invoice, at=timezone.now(), idempotency_key=key, **data.validated_data
        )
        return _shown(payment, status.HTTP_201_CREATED)


class InvoicePayView(APIView):
    @extend_schema(
        request=None,
        responses={200: PaymentSerializer},
        description="Charge the customer's saved payment method now for what is still owed.",
    )
    def post(self, request, invoice_id: str):
        invoice = _invoice_or_404(invoice_id)
        try:
            payment = invoice_attempt_payment(invoice=invoice, at=timezone.now())
        except GatewayError as error:
            raise GatewayUnavailable(str(error)) from None
        if payment is None:
            raise AppError.conflict(
                f"Nothing to charge on invoice {invoice}: it is paid or an attempt awaits Stripe."
            )
        return _shown(payment)


class PaymentRefundView(APIView):
    @extend_schema(
        request=RefundInput,
        responses={201: PaymentSerializer},
        description="Refund all that is left of the payment, or `amount` of it; the answer is "
        "the payment with its refunds.",
    )
    def post(self, request, payment_id: str):
        payment = _payment_or_404(payment_id)
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refund = payment_refund(payment=payment, at=timezone.now(), **data.validated_data)
        except GatewayError as error:
            raise GatewayUnavailable(str(error)) from None
        return _shown(refund.payment, status.HTTP_201_CREATED)
