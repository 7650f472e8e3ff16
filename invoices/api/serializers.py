"""API shapes of invoices (docs/api.md). Money is a decimal string with the currency's decimals.

The same serializers show a saved Invoice and an unsaved InvoiceDraft (the upcoming invoice):
"id", "number" and the links are null for a draft that was never saved.
"""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from catalog.currencies import format_money, price_text
from invoices.balances import InvoiceBalance, invoice_balance, invoice_balances
from invoices.documents import invoice_hosted_url, invoice_pdf_url
from invoices.models import Invoice
from rating.money import decimal_string

# What the schema says of fields that are null on some invoices (drafts, fee lines).
NULLABLE_STR = {"type": "string", "nullable": True}
NULLABLE_URI = {"type": "string", "format": "uri", "nullable": True}


@extend_schema_field(OpenApiTypes.STR)
class InvoiceMoneyField(serializers.Field):
    """One of the invoice's amounts as a decimal string in its currency ("1600.00")."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, invoice) -> str:
        return format_money(getattr(invoice, self.field_name), invoice.currency)


class InvoiceLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField()
    kind = serializers.CharField()
    description = serializers.CharField()
    meter = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    unit_amount = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    discount = serializers.SerializerMethodField()
    breakdown = serializers.JSONField()
    usage_start = serializers.DateTimeField(allow_null=True)
    usage_end = serializers.DateTimeField(allow_null=True)
    events_url = serializers.SerializerMethodField()

    @property
    def _currency(self) -> str:
        return self.context["currency"]

    @extend_schema_field(NULLABLE_STR)
    def get_meter(self, line) -> str | None:
        return None if line.meter is None else line.meter.code

    @extend_schema_field(OpenApiTypes.STR)
    def get_quantity(self, line) -> str:
        return decimal_string(line.quantity)

    @extend_schema_field(NULLABLE_STR)
    def get_unit_amount(self, line) -> str | None:
        return None if line.unit_amount is None else price_text(line.unit_amount, self._currency)

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount(self, line) -> str:
        return format_money(line.amount, self._currency)

    @extend_schema_field(OpenApiTypes.STR)
    def get_discount(self, line) -> str:
        return format_money(line.discount, self._currency)

    @extend_schema_field(NULLABLE_URI)
    def get_events_url(self, line) -> str | None:
        invoice_id = self.context.get("invoice_id")
        if line.id is None or invoice_id is None or line.meter is None:
            return None
        return reverse(
            "invoice-line-events",
            kwargs={"invoice_id": invoice_id, "line_id": line.id},
            request=self.context.get("request"),
        )


class InvoiceListSerializer(serializers.ListSerializer):
    """Reads the payment ledger once for the whole list (invoices.balances), not per invoice."""

    def to_representation(self, data):
        invoices = list(data.all() if hasattr(data, "all") else data)
        self.child.context["balances"] = invoice_balances(invoices=invoices)
        return super().to_representation(invoices)


class InvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    number = serializers.CharField(allow_null=True)
    customer = serializers.SerializerMethodField()
    subscription = serializers.SerializerMethodField()
    status = serializers.CharField()
    kind = serializers.CharField()
    currency = serializers.CharField()
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    subtotal = InvoiceMoneyField()
    discount = InvoiceMoneyField()
    tax = InvoiceMoneyField()
    credits_applied = InvoiceMoneyField()
    total = InvoiceMoneyField()
    amount_due = InvoiceMoneyField()
    taxes = serializers.SerializerMethodField()
    coupons = serializers.SerializerMethodField()
    tax_exempt_reason = serializers.CharField()
    amount_credited = serializers.SerializerMethodField()
    credit_notes = serializers.SerializerMethodField()
    # From the payment ledger (invoices.balances): never a stored figure.
    amount_paid = serializers.SerializerMethodField()
    amount_remaining = serializers.SerializerMethodField()
    payment_status = serializers.SerializerMethodField()
    paid_at = serializers.DateTimeField(allow_null=True, default=None)
    issued_at = serializers.DateTimeField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    grace_until = serializers.DateTimeField(allow_null=True)
    verified_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When verify_invoices last recomputed its usage lines from the raw events "
        "and the ledger and found them equal (null: not yet, or drift was found).",
    )
    lines = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    hosted_url = serializers.SerializerMethodField()

    class Meta:
        list_serializer_class = InvoiceListSerializer

    def _balance(self, invoice) -> InvoiceBalance:
        balances = self.context.get("balances") or {}
        if invoice.id in balances:
            return balances[invoice.id]
        return invoice_balance(invoice=invoice)

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount_paid(self, invoice) -> str:
        return format_money(self._balance(invoice).amount_paid, invoice.currency)

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount_remaining(self, invoice) -> str:
        return format_money(self._balance(invoice).amount_remaining, invoice.currency)

    @extend_schema_field(
        {"type": "string", "enum": ["draft", "void", "unpaid", "partially_paid", "paid"]}
    )
    def get_payment_status(self, invoice) -> str:
        return self._balance(invoice).payment_status

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "rate": {"type": "string"},
                    "jurisdiction": {"type": "string"},
                    "amount": {"type": "string"},
                },
            },
        }
    )
    def get_taxes(self, invoice) -> list:
        return [
            {
                "name": tax["name"],
                "rate": tax["rate"],
                "jurisdiction": tax.get("jurisdiction", ""),
                "amount": format_money(Decimal(tax["amount"]), invoice.currency),
            }
            for tax in invoice.taxes or []
        ]

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "name": {"type": "string"},
                    "amount": {"type": "string"},
                },
            },
        }
    )
    def get_coupons(self, invoice) -> list:
        return [
            {**coupon, "amount": format_money(Decimal(coupon["amount"]), invoice.currency)}
            for coupon in invoice.coupons or []
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_amount_credited(self, invoice) -> str:
        return format_money(getattr(invoice, "amount_credited", Decimal(0)), invoice.currency)

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "number": {"type": "string"},
                    "total": {"type": "string"},
                    "outcome": {"type": "string"},
                    "status": {"type": "string"},
                },
            },
        }
    )
    def get_credit_notes(self, invoice) -> list:
        if not isinstance(invoice, Invoice) or not getattr(invoice, "amount_credited", 0):
            return []  # a preview, or nothing credited (no query)
        return [
            {
                "id": note.pk,
                "number": note.number,
                "total": format_money(note.total, invoice.currency),
                "outcome": note.outcome,
                "status": note.status,
            }
            for note in invoice.credit_notes.order_by("issued_at", "id")
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_customer(self, invoice) -> str:
        return invoice.customer.external_id

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_subscription(self, invoice) -> int | None:
        if isinstance(invoice, Invoice):
            return invoice.subscription_id  # the id is on the row: no query per invoice
        return None if invoice.subscription is None else invoice.subscription.pk  # a preview

    @extend_schema_field(InvoiceLineSerializer(many=True))
    def get_lines(self, invoice) -> list:
        lines = invoice.lines if isinstance(invoice.lines, list) else invoice.lines.all()
        context = {**self.context, "currency": invoice.currency, "invoice_id": invoice.id}
        return InvoiceLineSerializer(lines, many=True, context=context).data

    @extend_schema_field(NULLABLE_URI)
    def get_pdf_url(self, invoice) -> str | None:
        return invoice_pdf_url(invoice=invoice) if invoice.id else None

    @extend_schema_field(NULLABLE_URI)
    def get_hosted_url(self, invoice) -> str | None:
        return invoice_hosted_url(invoice=invoice) if invoice.id else None


class EventSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    event_name = serializers.CharField()
    external_customer_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    properties = serializers.JSONField()
    received_at = serializers.DateTimeField()
    is_late = serializers.BooleanField()


class LineEventsSerializer(serializers.Serializer):
    """A usage line's drill-down: its window, its events, and their aggregation."""

    invoice = serializers.IntegerField(source="line.invoice_id")
    line = serializers.IntegerField(source="line.id")
    description = serializers.CharField(source="line.description")
    meter = serializers.CharField(source="line.meter.code")
    customer = serializers.CharField(source="external_customer_id")
    usage_start = serializers.DateTimeField(source="start")
    usage_end = serializers.DateTimeField(source="end")
    quantity = serializers.SerializerMethodField()
    line_quantity = serializers.SerializerMethodField()
    event_count = serializers.IntegerField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_quantity(self, drilldown) -> str:
        return decimal_string(drilldown.quantity)

    @extend_schema_field(OpenApiTypes.STR)
    def get_line_quantity(self, drilldown) -> str:
        return decimal_string(drilldown.line.quantity)
