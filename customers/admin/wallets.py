"""Admin of wallets (docs/operations.md, "Wallets"): every wallet with its balance and low-balance
flag; the ledger, where an operator grants credits and voids what is left of one. Writes go
through customers.services.wallets; the ledger is never edited."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.audit import audit_actor_label
from catalog.currencies import is_known_currency, money_display
from customers.models import (
    WALLET_MAX_PRIORITY,
    Customer,
    Wallet,
    WalletTransaction,
    WalletTransactionKind,
)
from customers.services.wallets import (
    wallet_credit,
    wallet_credit_validate,
    wallet_credit_void,
    wallet_update,
)


class LowBalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "low"

    def lookups(self, request, model_admin):
        return [("yes", "Below its threshold")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(low_balance_since__isnull=False)
        return queryset


class WalletTransactionInline(admin.TabularInline):
    model = WalletTransaction
    fk_name = "wallet"
    fields = ["created_at", "kind", "amount", "priority", "expires_at", "reason", "created_by"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    can_delete = False
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["customer", "currency", "balance", "threshold", "low_balance"]
    list_filter = [LowBalanceFilter, "currency"]
    search_fields = ["customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    fields = ["customer", "currency", "balance", "low_balance_threshold", "low_balance_since"]
    readonly_fields = ["customer", "currency", "balance", "low_balance_since"]
    inlines = [WalletTransactionInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(balance_sum=Coalesce(Sum("transactions__amount"), Decimal(0)))
        )

    def has_add_permission(self, request):
        return False  # a wallet opens with its first credit (Grant credits)

    def has_delete_permission(self, request, obj=None):
        return False  # its ledger is money history

    @admin.display(description="Balance", ordering="balance_sum")
    def balance(self, wallet: Wallet) -> str:
        return money_display(wallet.balance_sum, wallet.currency)

    @admin.display(description="Threshold", ordering="low_balance_threshold")
    def threshold(self, wallet: Wallet) -> str:
        if wallet.low_balance_threshold is None:
            return "—"
        return money_display(wallet.low_balance_threshold, wallet.currency)

    @admin.display(description="Low balance", boolean=True, ordering="low_balance_since")
    def low_balance(self, wallet: Wallet) -> bool:
        return wallet.low_balance_since is not None

    def save_model(self, request, obj, form, change):
        wallet_update(
            wallet=obj, low_balance_threshold=obj.low_balance_threshold, at=timezone.now()
        )


class GrantForm(forms.ModelForm):
    """Grant credits: the customer and currency pick (or open) the wallet."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.order_by("name"))
    currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. USD.")
    priority = forms.IntegerField(min_value=0, max_value=WALLET_MAX_PRIORITY, initial=100)

    class Meta:
        model = WalletTransaction
        fields = ["amount", "priority", "expires_at", "reason"]

    def clean(self):
        cleaned = super().clean()
        currency = (cleaned.get("currency") or "").strip().upper()
        cleaned["currency"] = currency
        if not is_known_currency(currency):
            self.add_error("currency", f"{currency!r} is not an ISO 4217 currency code.")
        elif cleaned.get("amount") is not None and not self.errors:
            try:
                wallet_credit_validate(
                    currency=currency,
                    amount=cleaned["amount"],
                    expires_at=cleaned.get("expires_at"),
                    priority=cleaned.get("priority"),
                    at=timezone.now(),
                )
            except ValidationError as refusal:
                for name, messages in refusal.message_dict.items():
                    self.add_error(name if name in self.fields else None, messages)
        return cleaned


@admin.register(WalletTransaction)
class WalletTransactionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "wallet",
        "kind",
        "amount_display",
        "priority",
        "expires_at",
        "reason",
        "created_by",
        "invoice_ref",
    ]
    list_filter = ["kind", "wallet__currency"]
    search_fields = ["wallet__customer__external_id", "wallet__customer__name", "reason"]
    list_select_related = ["wallet__customer"]
    actions = ["void_action"]
    date_hierarchy = "created_at"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = GrantForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["customer", "currency", "amount", "priority", "expires_at", "reason"]
        return [f.name for f in WalletTransaction._meta.concrete_fields if f.name != "id"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        customer = Customer.objects.filter(pk=request.GET.get("customer") or None).first()
        if customer is not None:
            initial.setdefault("currency", customer.currency)
        return initial

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # a ledger: void instead

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, tx: WalletTransaction) -> str:
        return money_display(tx.amount, tx.wallet.currency)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        credit = wallet_credit(
            customer=data["customer"],
            currency=data["currency"],
            amount=data["amount"],
            reason=data.get("reason") or "",
            source_key=f"admin:{uuid.uuid4()}",
            created_by=audit_actor_label(request.user) or "",
            expires_at=data.get("expires_at"),
            priority=data.get("priority"),
            kind=WalletTransactionKind.GRANT,
            at=timezone.now(),
        )
        obj.__dict__.update({k: v for k, v in credit.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.action(description="Void what is left of the selected credits", permissions=["add"])
    def void_action(self, request, queryset):
        voided = 0
        for credit in queryset.filter(kind__in=["grant", "purchase"]):
            void = wallet_credit_void(
                credit=credit,
                reason="Voided in the admin",
                created_by=audit_actor_label(request.user) or "",
                at=timezone.now(),
            )
            voided += void is not None
        self.message_user(request, f"{voided} credit(s) voided.")
