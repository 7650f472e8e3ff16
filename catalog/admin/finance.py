"""Tax rates and coupons (docs/operations.md, "Taxes" and "Coupons")."""

from django import forms
from django.contrib import admin

from catalog.models import Coupon, Plan, TaxRate


class TaxRateAdminForm(forms.ModelForm):
    plans = forms.ModelMultipleChoiceField(
        queryset=Plan.objects.order_by("code", "-version"),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("plans", is_stacked=False),
        help_text="Plans whose invoices get this rate by default (a customer's own rates win).",
    )

    class Meta:
        model = TaxRate
        fields = ["name", "percentage", "jurisdiction", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["plans"].initial = list(self.instance.plans.all())


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    form = TaxRateAdminForm
    list_display = ["name", "percentage", "jurisdiction", "active", "plan_count"]
    list_filter = ["active", "jurisdiction"]
    search_fields = ["name", "jurisdiction"]
    fields = ["name", "percentage", "jurisdiction", "active", "plans"]

    def get_readonly_fields(self, request, obj=None):
        # A rate that invoices printed keeps its percentage: make a new rate instead.
        return ["percentage"] if obj is not None else []

    @admin.display(description="Plans")
    def plan_count(self, rate: TaxRate) -> int:
        return rate.plans.count()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.plans.set(form.cleaned_data.get("plans") or [])


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "value",
        "duration",
        "duration_periods",
        "expires_at",
        "redemptions",
        "active",
    ]
    list_filter = ["kind", "duration", "active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["plans"]
    fieldsets = [
        (None, {"fields": ["code", "name", "active"]}),
        ("Discount", {"fields": ["kind", "amount", "currency", "percentage"]}),
        ("Duration", {"fields": ["duration", "duration_periods"]}),
        ("Limits", {"fields": ["expires_at", "max_redemptions", "plans"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Given coupons keep their terms (invoices computed from them): only name/limits change.
        if obj is not None and obj.applications.exists():
            return ["code", "kind", "amount", "currency", "percentage", "duration"]
        return []

    @admin.display(description="Value")
    def value(self, coupon: Coupon) -> str:
        if coupon.amount is not None:
            return f"{coupon.amount.normalize():f} {coupon.currency}"
        return f"{coupon.percentage.normalize():f} %"

    @admin.display(description="Given to")
    def redemptions(self, coupon: Coupon) -> int:
        return coupon.applications.count()

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.applications.exists()
