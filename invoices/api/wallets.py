"""The wallet API (docs/api.md, "Wallets"): a customer's prepaid credits, their ledger, grants
and paid top-ups. It lives with the invoices because the ongoing balance is the balance minus
the upcoming invoice, and a purchase raises an invoice."""

import uuid

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import FIELD_ERRORS, PAGE_PARAMETERS, paginated
from billing.audit import audit_actor_label
from catalog.currencies import format_money, is_known_currency
from customers.api.fields import AwareDateTimeField, StrictSerializer
from customers.api.lookups import customer_or_404
from customers.models import (
    WALLET_MAX_AMOUNT,
    WALLET_MAX_PRIORITY,
    Customer,
    WalletTransactionKind,
)
from customers.selectors import wallet_transactions
from customers.services.wallets import wallet_credit, wallet_for, wallet_update
from invoices.api.serializers import InvoiceSerializer
from invoices.selectors import invoice_get
from invoices.services.credit_purchases import credit_purchase_create
from invoices.wallets import wallet_summary

NOT_FOUND = OpenApiResponse(description='{"detail": "Unknown customer \'acme\'."}')
CURRENCY = OpenApiParameter(
    "currency", str, description="The wallet's ISO 4217 currency (default: the customer's)."
)


def _money(amount, currency: str) -> str | None:
    return None if amount is None else format_money(amount, currency)


class WalletSerializer(serializers.Serializer):
    customer = serializers.CharField(source="wallet.customer.external_id")
    currency = serializers.CharField()
    balance = serializers.SerializerMethodField()
    ongoing_balance = serializers.SerializerMethodField(
        help_text="balance − the upcoming invoice's amount due (usage so far this period)."
    )
    upcoming_amount = serializers.SerializerMethodField()
    low_balance_threshold = serializers.SerializerMethodField()
    low_balance = serializers.BooleanField(
        help_text="True from the moment the balance fell below the threshold until it is back."
    )

    def get_balance(self, summary) -> str:
        return _money(summary.balance, summary.currency)

    def get_ongoing_balance(self, summary) -> str | None:
        return _money(summary.ongoing_balance, summary.currency)

    def get_upcoming_amount(self, summary) -> str | None:
        return _money(summary.upcoming_amount, summary.currency)

    def get_low_balance_threshold(self, summary) -> str | None:
        return _money(summary.wallet.low_balance_threshold, summary.currency)


class WalletUpdateSerializer(StrictSerializer):
    currency = serializers.CharField(required=False, max_length=3)
    low_balance_threshold = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        min_value=0,
        max_value=WALLET_MAX_AMOUNT,
        allow_null=True,
        help_text=f"0 to {WALLET_MAX_AMOUNT}; null: no warning.",
    )


class WalletTransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=WalletTransactionKind.choices)
    currency = serializers.CharField(source="wallet.currency")
    amount = serializers.SerializerMethodField(help_text="Credits positive, debits negative.")
    priority = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    created_by = serializers.CharField()
    credit = serializers.IntegerField(
        source="credit_id", allow_null=True, help_text="For a debit: the credit it draws on."
    )
    invoice = serializers.IntegerField(source="invoice_ref", allow_null=True)
    created_at = serializers.DateTimeField()

    def get_amount(self, tx) -> str:
        return _money(tx.amount, tx.wallet.currency)


class WalletTransactionInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=[WalletTransactionKind.GRANT.value, WalletTransactionKind.PURCHASE.value]
    )
    amount = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        help_text=f"More than 0, at most {WALLET_MAX_AMOUNT}, in the currency's minor unit.",
    )
    currency = serializers.CharField(
        required=False, max_length=3, help_text="Default: the customer's currency."
    )
    expires_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="In the future, at most 3,660 days ahead."
    )
    priority = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=WALLET_MAX_PRIORITY,
        help_text="Lower is spent first (default 100).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    source_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="A grant: your idempotency key; the same key again returns the first grant.",
    )


def _currency(customer: Customer, currency: str | None) -> str:
    """The wallet's currency: the one asked for, else the customer's; 400 when neither is."""
    currency = (currency or customer.currency or "").strip().upper()
    if not currency:
        raise serializers.ValidationError(
            {"currency": ["The customer has no currency yet: say which (e.g. USD)."]}
        )
    if not is_known_currency(currency):
        raise serializers.ValidationError(
            {"currency": [f"{currency[:8]!r} is not an ISO 4217 currency code."]}
        )
    return currency


class WalletView(APIView):
    @extend_schema(
        parameters=[CURRENCY],
        responses={200: WalletSerializer, 404: NOT_FOUND},
        description="Balance (the sum of the wallet's transactions) and ongoing balance "
        "(balance − the usage the current period has accrued so far, as the upcoming invoice "
        "bills it), in real time.",
        tags=["wallets"],
    )
    def get(self, request, external_id: str):
        customer = customer_or_404(external_id)
        currency = _currency(customer, request.query_params.get("currency"))
        summary = wallet_summary(customer=customer, at=timezone.now(), currency=currency)
        return Response(WalletSerializer(summary).data)

    @extend_schema(
        request=WalletUpdateSerializer,
        responses={200: WalletSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
        description="Set the low-balance threshold.",
        tags=["wallets"],
    )
    def patch(self, request, external_id: str):
        customer = customer_or_404(external_id)
        serializer = WalletUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        currency = _currency(customer, values.get("currency"))
        at = timezone.now()
        wallet = wallet_for(customer=customer, currency=currency)
        wallet_update(wallet=wallet, low_balance_threshold=values["low_balance_threshold"], at=at)
        summary = wallet_summary(customer=customer, at=at, currency=currency)
        return Response(WalletSerializer(summary).data)


class WalletTransactionsView(APIView):
    paginated_list = True

    @extend_schema(
        parameters=[CURRENCY, *PAGE_PARAMETERS],
        responses={200: WalletTransactionSerializer(many=True), 404: NOT_FOUND},
        description="The wallet's ledger, newest first.",
        tags=["wallets"],
    )
    def get(self, request, external_id: str):
        customer = customer_or_404(external_id)
        currency = _currency(customer, request.query_params.get("currency"))
        transactions = wallet_transactions(customer=customer, currency=currency)
        return paginated(request, self, transactions, WalletTransactionSerializer)

    @extend_schema(
        request=WalletTransactionInputSerializer,
        responses={
            201: OpenApiResponse(
                description="A grant: the transaction (credits available at once). A purchase: "
                "its invoice (kind credit_purchase); the credits land when it is paid."
            ),
            400: FIELD_ERRORS,
            404: NOT_FOUND,
        },
        tags=["wallets"],
    )
    def post(self, request, external_id: str):
        customer = customer_or_404(external_id)
        serializer = WalletTransactionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        at = timezone.now()
        terms = {
            "customer": customer,
            "currency": _currency(customer, values.get("currency")),
            "amount": values["amount"],
            "expires_at": values.get("expires_at"),
            "priority": values.get("priority"),
            "reason": values.get("reason", ""),
            "created_by": audit_actor_label(request.user) or "",
            "at": at,
        }
        if values["kind"] == WalletTransactionKind.PURCHASE:
            if "source_key" in values:
                raise serializers.ValidationError(
                    {"source_key": ["Only a grant takes a source_key."]}
                )
            invoice = credit_purchase_create(**terms)
            body = InvoiceSerializer(
                invoice_get(invoice_id=invoice.pk), context={"request": request}
            )
            return Response(body.data, status=status.HTTP_201_CREATED)
        # The client's key, kept apart from Tally's own (credit_note:<id>, invoice:<id>).
        source_key = f"api:{values.get('source_key') or uuid.uuid4()}"
        credit = wallet_credit(source_key=source_key, **terms)
        return Response(WalletTransactionSerializer(credit).data, status=status.HTTP_201_CREATED)
