"""Charges across plans, to find and inspect; they are edited on their plan's page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin.forms import CalculatorForm
from catalog.currencies import price_text
from catalog.models import Charge, Tier


class TierInline(admin.TabularInline):
    model = Tier
    fields = ["up_to", "unit_amount", "flat_amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ["__str__", "plan", "meter", "model", "price", "free_units", "cadence"]
    list_filter = ["model", "cadence", "plan__currency"]
    search_fields = ["description", "plan__code", "plan__name", "meter__code", "meter__name"]
    list_select_related = ["plan", "meter"]
    change_form_template = "admin/catalog/charge/change_form.html"
    inlines = [TierInline]
    fields = [
        "plan_link",
        "meter",
        "description",
        "model",
        "cadence",
        "unit_amount",
        "amount",
        "package_size",
        "package_amount",
        "rate",
        "fixed_amount",
        "free_units",
        "min_amount",
        "max_amount",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Plan")
    def plan_link(self, charge: Charge) -> str:
        url = reverse("admin:catalog_plan_change", args=[charge.plan_id])
        return format_html('<a href="{}">{}</a> (edit its charges there)', url, charge.plan)

    @admin.display(description="Price")
    def price(self, charge: Charge) -> str:
        currency = charge.plan.currency
        if charge.unit_amount is not None:
            return f"{price_text(charge.unit_amount, currency)} {currency} per unit"
        if charge.package_amount is not None and charge.package_size is not None:
            return f"{price_text(charge.package_amount, currency)} {currency} per package"
        if charge.amount is not None:
            return f"{price_text(charge.amount, currency)} {currency} flat"
        if charge.rate is not None:
            return f"{charge.rate.normalize():f}%"
        tiers = charge.tiers.all()
        return f"{len(tiers)} tier(s)" if tiers else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        charge = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if charge is not None:
            context["calculator_form"] = CalculatorForm(
                initial={"charge": charge.pk}, plan=charge.plan
            )
            context["calculator_url"] = reverse(
                "admin:catalog_plan_calculator", args=[charge.plan_id]
            )
        return super().change_view(request, object_id, form_url, context)
