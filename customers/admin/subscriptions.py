"""Subscription admin: every subscription with its period and phases; changes go through services.

A subscription is created, moved and canceled from its customer's page (the services keep the
history straight), so this page is read-only apart from the cancel action.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from catalog.admin.features import GrantFormMixin
from customers.models import Subscription, SubscriptionFeature, SubscriptionPhase
from customers.services import subscription_cancel


class SubscriptionPhaseInline(admin.TabularInline):
    model = SubscriptionPhase
    fields = ["plan", "starts_at", "ends_at", "reason", "cycle_anchor_at"]
    readonly_fields = fields
    ordering = ["starts_at"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SubscriptionFeatureForm(GrantFormMixin, forms.ModelForm):
    class Meta:
        model = SubscriptionFeature
        fields = ["feature", "enabled", "limit", "hard", "value"]


class SubscriptionFeatureInline(admin.TabularInline):
    """Overrides of the plan's feature grants for this subscription (docs/api.md,
    "Entitlements"): its own limit, value and alerts, or the feature taken away."""

    model = SubscriptionFeature
    form = SubscriptionFeatureForm
    fields = ["feature", "enabled", "limit", "hard", "value", "alerts_text"]
    autocomplete_fields = ["feature"]
    extra = 0
    verbose_name = "feature override"


class BillingBlockedFilter(admin.SimpleListFilter):
    """Subscriptions whose cycle close fails (docs/operations.md "Billing blocked")."""

    title = "billing"
    parameter_name = "billing"

    def lookups(self, request, model_admin):
        return [("blocked", "Billing blocked"), ("ok", "Billing normally")]

    def queryset(self, request, queryset):
        if self.value() == "blocked":
            return queryset.filter(billing_blocked_at__isnull=False)
        if self.value() == "ok":
            return queryset.filter(billing_blocked_at__isnull=True)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    change_form_template = "admin/customers/subscription/change_form.html"
    list_display = [
        "id",
        "customer_link",
        "plan_label",
        "status",
        "anchor",
        "started_at",
        "current_period_start",
        "next_billing_at",
        "cancel_at_period_end",
        "billing_blocked",
    ]
    list_filter = [
        BillingBlockedFilter,
        "status",
        "anchor",
        "cancel_at_period_end",
        "plan__code",
        "plan",  # a version (the plan page links its subscribers per version here)
        "plan__currency",
    ]
    search_fields = ["=id", "customer__external_id", "customer__name", "plan__code"]
    list_select_related = ["customer", "plan"]
    date_hierarchy = "started_at"
    inlines = [SubscriptionPhaseInline, SubscriptionFeatureInline]
    actions = ["cancel_at_period_end_action"]
    fields = [
        "customer",
        "plan",
        "status",
        "anchor",
        "started_at",
        "trial_ends_at",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "cancel_at",
        "canceled_at",
        "ended_at",
        "ends_at",
        "metadata",
        "billing_blocked_at",
        "billing_blocked_reason",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # subscribe from the customer's page

    def has_delete_permission(self, request, obj=None):
        return False  # billing history

    @admin.display(description="Customer", ordering="customer__name")
    def customer_link(self, subscription: Subscription) -> str:
        url = reverse("admin:customers_customer_change", args=[subscription.customer_id])
        return format_html('<a href="{}">{}</a>', url, subscription.customer)

    @admin.display(description="Plan", ordering="plan__code")
    def plan_label(self, subscription: Subscription) -> str:
        return f"{subscription.plan.code} v{subscription.plan.version}"

    @admin.display(description="Billing blocked", ordering="billing_blocked_at")
    def billing_blocked(self, subscription: Subscription) -> str:
        if subscription.billing_blocked_at is None:
            return "—"
        return format_html(
            '<span style="color:#b3261e" title="{}">since {}</span>: {}',
            subscription.billing_blocked_reason,
            subscription.billing_blocked_at.strftime("%Y-%m-%d %H:%M UTC"),
            subscription.billing_blocked_reason[:120],
        )

    @admin.display(description="Next billing", ordering="current_period_end")
    def next_billing_at(self, subscription: Subscription):
        return subscription.current_period_end

    @admin.action(description="Cancel at the end of the current period", permissions=["change"])
    def cancel_at_period_end_action(self, request, queryset):
        now = timezone.now()
        canceled, refused = 0, []
        for subscription in queryset:
            try:
                subscription_cancel(subscription=subscription, at_period_end=True, at=now)
            except ValidationError as refusal:
                refused.append(" ".join(refusal.messages))
            else:
                canceled += 1
        self.message_user(request, f"{canceled} subscription(s) will cancel at period end.")
        for message in refused:
            self.message_user(request, message, level="warning")
