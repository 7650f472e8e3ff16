"""The finance API (docs/api.md, "Credit notes, taxes and coupons"): issue and list credit
notes, create tax rates and coupons, give a coupon to a customer. Each view validates with a
serializer and calls one service."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import idempotency_key_from, paginated, parse_id, query_choice, query_text
from catalog.currencies import format_money
from catalog.models import Coupon, CouponDuration, CouponKind, TaxRate
from catalog.serializers import StrictSerializer
from catalog.services.finance import MAX_DURATION_PERIODS, coupon_create, tax_rate_create
from customers.api.fields import AwareDateTimeField
from customers.api.lookups import customer_or_404
from customers.models import AppliedCoupon
from customers.services.coupons import customer_coupon_apply, customer_coupon_remove
from invoices.api.views import _invoice_or_404
from invoices.documents import credit_note_hosted_url, credit_note_pdf_url
from invoices.models import CreditNoteOutcome, CreditNoteStatus
from invoices.selectors import credit_note_list
from invoices.services.credit_notes import MAX_LINES, MAX_REASON, LineCredit, credit_note_issue

AMOUNT_DIGITS = {"max_digits": 20, "decimal_places": 6}
MAX_ID = 10**18 - 1  # ids fit a bigint (billing.api.parse_id)


class CreditLineInput(StrictSerializer):
    line_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = serializers.DecimalField(**AMOUNT_DIGITS)


class CreditNoteInput(StrictSerializer):
    lines = CreditLineInput(many=True, required=False, max_length=MAX_LINES, min_length=1)
    amount = serializers.DecimalField(**AMOUNT_DIGITS, required=False)
    reason = serializers.CharField(max_length=MAX_REASON)
    outcome = serializers.ChoiceField(choices=CreditNoteOutcome.values)

    def validate(self, attrs):
        if ("lines" in attrs) == ("amount" in attrs):
            raise serializers.ValidationError('Give either "lines" or "amount".')
        return attrs


@extend_schema_field(OpenApiTypes.STR)
class NoteMoneyField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, note) -> str:
        return format_money(getattr(note, self.field_name), note.currency)


class CreditNoteLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    line_id = serializers.IntegerField(source="invoice_line_id", allow_null=True)
    description = serializers.CharField()
    amount = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount(self, line) -> str:
        return format_money(line.amount, self.context["currency"])

    @extend_schema_field(OpenApiTypes.STR)
    def get_tax(self, line) -> str:
        return format_money(line.tax, self.context["currency"])


class CreditNoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    invoice = serializers.IntegerField(source="invoice_id")
    invoice_number = serializers.CharField(source="invoice.number")
    customer = serializers.CharField(source="customer.external_id")
    status = serializers.CharField()
    currency = serializers.CharField()
    reason = serializers.CharField()
    outcome = serializers.CharField()
    subtotal = NoteMoneyField()
    tax = NoteMoneyField()
    taxes = serializers.JSONField()
    total = NoteMoneyField()
    applied_to_invoice = NoteMoneyField()
    outcome_amount = NoteMoneyField()
    offset_used = NoteMoneyField()
    refund_id = serializers.IntegerField(allow_null=True)
    issued_at = serializers.DateTimeField()
    lines = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    hosted_url = serializers.SerializerMethodField()

    @extend_schema_field(CreditNoteLineSerializer(many=True))
    def get_lines(self, note) -> list:
        context = {"currency": note.currency}
        return CreditNoteLineSerializer(note.lines.all(), many=True, context=context).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_pdf_url(self, note) -> str:
        return credit_note_pdf_url(credit_note=note)

    @extend_schema_field(OpenApiTypes.URI)
    def get_hosted_url(self, note) -> str:
        return credit_note_hosted_url(credit_note=note)


class InvoiceCreditNotesView(APIView):
    @extend_schema(
        request=CreditNoteInput,
        responses={201: CreditNoteSerializer},
        description="Credit a finalized, paid or uncollectible invoice by lines (net amounts; "
        "the invoice's tax rates are added) or by a gross `amount`. Above what is left to "
        "credit → 400; a draft or void invoice → 409; an `Idempotency-Key` header (≤ 64 "
        "characters) makes a repeated request return the first note.",
    )
    def post(self, request, invoice_id: str):
        invoice = _invoice_or_404(invoice_id)
        data = CreditNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency_key_from(request)
        values = data.validated_data
        lines = values.get("lines")
        note = credit_note_issue(
            invoice=invoice,
            reason=values["reason"],
            outcome=values["outcome"],
            at=timezone.now(),
            lines=None if lines is None else [LineCredit(**line) for line in lines],
            amount=values.get("amount"),
            idempotency_key=f"api:{key}" if key else None,
            created_by=f"api:{getattr(request.auth, 'name', '')}",
        )
        return Response(
            CreditNoteSerializer(credit_note_list().get(pk=note.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CreditNoteListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str, description="A customer's external id."),
            OpenApiParameter("invoice", int, description="An invoice id."),
            OpenApiParameter("status", str, enum=CreditNoteStatus.values),
        ],
        responses=CreditNoteSerializer(many=True),
    )
    def get(self, request):
        invoice = request.query_params.get("invoice", "").strip()
        if invoice and parse_id(invoice) is None:
            raise serializers.ValidationError({"invoice": ["Must be an invoice id."]})
        notes = credit_note_list(
            customer_external_id=query_text(request, "customer"),
            invoice_id=parse_id(invoice) if invoice else None,
            status=query_choice(request, "status", CreditNoteStatus.values),
        )
        return paginated(request, self, notes, CreditNoteSerializer)


class CreditNoteDetailView(APIView):
    @extend_schema(responses={200: CreditNoteSerializer})
    def get(self, request, credit_note_id: str):
        number = parse_id(credit_note_id)
        note = None if number is None else credit_note_list().filter(pk=number).first()
        if note is None:
            raise NotFound(f"Unknown credit note {credit_note_id}.")
        return Response(CreditNoteSerializer(note).data)


class TaxRateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4)
    jurisdiction = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )
    active = serializers.BooleanField(required=False, default=True)


class TaxRateInput(StrictSerializer, TaxRateSerializer):
    pass


class TaxRatesView(APIView):
    @extend_schema(responses=TaxRateSerializer(many=True))
    def get(self, request):
        return paginated(request, self, TaxRate.objects.order_by("name", "id"), TaxRateSerializer)

    @extend_schema(request=TaxRateInput, responses={201: TaxRateSerializer})
    def post(self, request):
        data = TaxRateInput(data=request.data)
        data.is_valid(raise_exception=True)
        rate = tax_rate_create(**data.validated_data)
        return Response(TaxRateSerializer(rate).data, status=status.HTTP_201_CREATED)


class CouponSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True)
    duration = serializers.CharField()
    duration_periods = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    max_redemptions = serializers.IntegerField(allow_null=True)
    plans = serializers.SerializerMethodField()
    active = serializers.BooleanField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_amount(self, coupon) -> str | None:
        return None if coupon.amount is None else format_money(coupon.amount, coupon.currency)

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_plans(self, coupon) -> list[str]:
        return sorted({plan.code for plan in coupon.plans.all()})


class CouponInput(StrictSerializer):
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200, required=False, default="")
    kind = serializers.ChoiceField(choices=CouponKind.values)
    amount = serializers.DecimalField(**AMOUNT_DIGITS, required=False)
    currency = serializers.CharField(max_length=3, required=False, default="")
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4, required=False)
    duration = serializers.ChoiceField(choices=CouponDuration.values)
    duration_periods = serializers.IntegerField(
        min_value=1, max_value=MAX_DURATION_PERIODS, required=False
    )
    expires_at = AwareDateTimeField(required=False)
    max_redemptions = serializers.IntegerField(min_value=1, max_value=10**9, required=False)
    plans = serializers.ListField(
        child=serializers.SlugField(max_length=100), required=False, max_length=100
    )


class CouponsView(APIView):
    @extend_schema(responses=CouponSerializer(many=True))
    def get(self, request):
        coupons = Coupon.objects.prefetch_related("plans").order_by("code")
        return paginated(request, self, coupons, CouponSerializer)

    @extend_schema(request=CouponInput, responses={201: CouponSerializer})
    def post(self, request):
        data = CouponInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupon_create(**data.validated_data)
        return Response(CouponSerializer(coupon).data, status=status.HTTP_201_CREATED)


class CustomerCouponInput(StrictSerializer):
    coupon = serializers.SlugField(max_length=100)


class AppliedCouponSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    coupon = serializers.CharField(source="coupon.code")
    customer = serializers.CharField(source="customer.external_id")
    applied_at = serializers.DateTimeField()
    removed_at = serializers.DateTimeField(allow_null=True)


class CustomerCouponsView(APIView):
    @extend_schema(
        responses=AppliedCouponSerializer(many=True),
        description="The coupons given to the customer, newest first (removed ones too, with "
        "`removed_at`); paged as every list.",
    )
    def get(self, request, external_id: str):
        customer = customer_or_404(external_id)
        applied = (
            AppliedCoupon.objects.filter(customer=customer)
            .select_related("coupon", "customer")
            .order_by("-applied_at", "-pk")
        )
        return paginated(request, self, applied, AppliedCouponSerializer)

    @extend_schema(
        request=CustomerCouponInput,
        responses={201: AppliedCouponSerializer},
        description="Give a coupon to the customer (again: the same answer). Expired, used up, "
        "inactive → 409; another currency → 400.",
    )
    def post(self, request, external_id: str):
        customer = customer_or_404(external_id)
        data = CustomerCouponInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = Coupon.objects.filter(code=data.validated_data["coupon"]).first()
        if coupon is None:
            raise NotFound(f"Unknown coupon '{data.validated_data['coupon']}'.")
        applied = customer_coupon_apply(customer=customer, coupon=coupon, at=timezone.now())
        return Response(AppliedCouponSerializer(applied).data, status=status.HTTP_201_CREATED)


class CustomerCouponDetailView(APIView):
    @extend_schema(
        responses={200: AppliedCouponSerializer},
        description="Take the coupon off the customer: its next invoices get no discount from "
        "it (what it already took stays taken). Again: the same answer. Not given → 404.",
    )
    def delete(self, request, external_id: str, code: str):
        customer = customer_or_404(external_id)
        applied = (
            AppliedCoupon.objects.filter(customer=customer, coupon__code=code)
            .select_related("coupon", "customer")
            .first()
        )
        if applied is None:
            raise NotFound(f"Customer '{external_id}' was not given coupon '{code}'.")
        applied = customer_coupon_remove(applied=applied, at=timezone.now())
        return Response(AppliedCouponSerializer(applied).data)
