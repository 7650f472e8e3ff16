"""Admin plan builder: a plan with its charges and their tiers on one page, and a price calculator.

Saving goes through the plan services (plan_create / plan_update), so the admin and the API
apply the same rules. A version in use is frozen: its page is read-only, with a "Create new
version" button that copies it into the next version to edit.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.admin.features import PlanFeatureForm, PlanFeatureInlineFormSet
from catalog.admin.forms import CalculatorForm, ChargeForm, ChargeInlineFormSet, PlanForm
from catalog.currencies import money_display, price_text
from catalog.models import Charge, Plan, PlanFeature
from catalog.selectors import (
    charge_price_preview,
    plan_is_frozen,
    plan_latest,
    plans_in_use_q,
    plans_with_in_use,
)
from catalog.services import plan_create, plan_new_version, plan_update
from catalog.validation import PLAN_FIELDS
from rating import decimal_string

EVERY_INTERVAL = {
    "minute": "every minute",
    "hour": "hourly",
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
    "quarter": "quarterly",
    "year": "yearly",
}


def _frozen(plan: Plan | None) -> bool:
    """plan_is_frozen, asked once per request for the object the page shows."""
    if plan is None or plan.pk is None:
        return False
    if not hasattr(plan, "_catalog_frozen"):
        plan._catalog_frozen = plan_is_frozen(plan=plan)
    return plan._catalog_frozen


def _shown(name: str, label: str, *, money: bool):
    """A read-only display of a decimal field as an operator typed it ("0.80", "1000")."""

    @admin.display(description=label)
    def shown(self, obj) -> str:
        value = getattr(obj, name)
        if value is None:
            return "-"
        currency = obj.currency if isinstance(obj, Plan) else obj.plan.currency
        return price_text(value, currency) if money else decimal_string(value)

    return shown


class FrozenDecimalsMixin:
    """On a frozen version's read-only page, decimals show as typed, not as stored (0.000000)."""

    frozen_money: tuple[str, ...] = ()
    frozen_numbers: tuple[str, ...] = ()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not _frozen(obj):
            return fieldsets
        return [
            (title, {**options, "fields": [self._swap(entry) for entry in options["fields"]]})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if _frozen(obj):
            readonly += [f"{name}_shown" for name in self.frozen_money + self.frozen_numbers]
        return readonly

    def _swap(self, entry):
        if isinstance(entry, tuple | list):
            return tuple(self._swap(name) for name in entry)
        decimals = self.frozen_money + self.frozen_numbers
        return f"{entry}_shown" if entry in decimals else entry


class InUseFilter(admin.SimpleListFilter):
    title = "in use"
    parameter_name = "in_use"

    def lookups(self, request, model_admin):
        return [("yes", "In use (frozen)"), ("no", "Not in use")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(plans_in_use_q()).distinct()
        if self.value() == "no":
            return queryset.exclude(pk__in=Plan.objects.filter(plans_in_use_q()))
        return queryset


class LatestVersionFilter(admin.SimpleListFilter):
    title = "version"
    parameter_name = "latest"

    def lookups(self, request, model_admin):
        return [("yes", "Latest version only")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            newer = Plan.objects.filter(code=OuterRef("code"), version__gt=OuterRef("version"))
            return queryset.filter(~Exists(newer))
        return queryset


class FrozenInlineMixin:
    """An inline of the plan page: nothing added, changed or deleted on a frozen version."""

    def has_add_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_delete_permission(request, obj)


class ChargeInline(FrozenInlineMixin, FrozenDecimalsMixin, admin.StackedInline):
    """The plan's charges; each shows its tier table (see the inline template)."""

    frozen_money = ("unit_amount", "amount", "package_amount", "fixed_amount")
    frozen_money += ("min_amount", "max_amount")
    frozen_numbers = ("package_size", "rate", "free_units")
    unit_amount_shown = _shown("unit_amount", "Unit amount", money=True)
    amount_shown = _shown("amount", "Amount", money=True)
    package_amount_shown = _shown("package_amount", "Package amount", money=True)
    fixed_amount_shown = _shown("fixed_amount", "Fixed amount", money=True)
    min_amount_shown = _shown("min_amount", "Min amount", money=True)
    max_amount_shown = _shown("max_amount", "Max amount", money=True)
    package_size_shown = _shown("package_size", "Package size", money=False)
    rate_shown = _shown("rate", "Rate (%)", money=False)
    free_units_shown = _shown("free_units", "Free units", money=False)

    model = Charge
    form = ChargeForm
    formset = ChargeInlineFormSet
    template = "admin/catalog/plan/charge_inline.html"
    extra = 1
    show_change_link = True

    def get_extra(self, request, obj=None, **kwargs):
        # A blank charge form only where the plan has none yet; "Add another Charge" adds one.
        return 0 if obj is not None and obj.charges.exists() else 1

    fieldsets = [
        (None, {"fields": [("meter", "model"), ("description", "cadence")]}),
        (
            "Price",
            {
                "fields": [
                    "unit_amount",
                    "amount",
                    ("package_size", "package_amount"),
                    ("rate", "fixed_amount"),
                ]
            },
        ),
        ("Allowance and limits", {"fields": [("free_units", "min_amount", "max_amount")]}),
    ]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("meter", "plan").prefetch_related("tiers")
        )


class PlanFeatureInline(FrozenInlineMixin, admin.TabularInline):
    """The plan's feature grants (docs/api.md, "Entitlements"), saved with the plan."""

    model = PlanFeature
    form = PlanFeatureForm
    formset = PlanFeatureInlineFormSet
    extra = 1
    verbose_name = "feature grant"
    fields = ["feature", "limit", "hard", "value", "alerts_text"]
    autocomplete_fields = ["feature"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("feature")

    def get_fields(self, request, obj=None):
        if _frozen(obj):
            return ["feature", "limit", "hard", "value", "alerts"]
        return self.fields


@admin.register(Plan)
class PlanAdmin(FrozenDecimalsMixin, admin.ModelAdmin):
    form = PlanForm
    frozen_money = ("base_amount", "setup_amount")
    base_amount_shown = _shown("base_amount", "Base amount", money=True)
    setup_amount_shown = _shown("setup_amount", "Setup amount", money=True)
    inlines = [ChargeInline, PlanFeatureInline]
    change_form_template = "admin/catalog/plan/change_form.html"

    class Media:
        css = {"all": ["catalog/plan_builder.css"]}
        js = ["catalog/plan_builder.js"]

    list_display = [
        "code",
        "version",
        "name",
        "currency",
        "billing_interval",
        "base_fee",
        "charge_count",
        "in_use",
    ]
    list_display_links = ["code", "name"]
    list_filter = [LatestVersionFilter, InUseFilter, "currency", "interval"]
    search_fields = ["code", "name", "description"]
    ordering = ["code", "-version"]
    fieldsets = [
        (None, {"fields": ["code", "name", "description"]}),
        (
            "Billing",
            {
                "fields": [
                    "currency",
                    ("interval", "interval_count"),
                    ("base_amount", "base_timing"),
                    "setup_amount",
                    ("trial_days", "trial_bills_usage"),
                ]
            },
        ),
        ("Metadata", {"classes": ["collapse"], "fields": ["metadata"]}),
    ]

    def get_queryset(self, request):
        return plans_with_in_use(super().get_queryset(request).annotate(Count("charges")))

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "code"] if obj is not None else readonly

    @admin.display(description="Billed", ordering="interval")
    def billing_interval(self, plan: Plan) -> str:
        if plan.interval_count > 1:
            return f"every {plan.interval_count} {plan.interval}s"
        return EVERY_INTERVAL.get(plan.interval, plan.interval)

    @admin.display(description="Base fee")
    def base_fee(self, plan: Plan) -> str:
        if not plan.base_amount:
            return "usage only"  # not "$0.00 / month": the plan bills its charges only
        return money_display(plan.base_amount, plan.currency)

    @admin.display(description="Charges", ordering="charges__count")
    def charge_count(self, plan: Plan) -> int:
        return plan.charges__count

    @admin.display(description="In use", boolean=True)
    def in_use(self, plan: Plan) -> bool:
        return plan.in_use

    # --- permissions: a version in use is frozen ------------------------------------------

    def has_change_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        # A version in use is kept for its subscribers' billing history: say so, instead of
        # the stock "permission denied" of has_delete_permission.
        plan = self.get_object(request, object_id)
        if plan is not None and _frozen(plan) and super().has_delete_permission(request, plan):
            messages.error(
                request,
                f"{plan} has subscribers, so it cannot be deleted: its invoices refer to it. "
                "Make a new version instead, and move the subscribers to it.",
            )
            return HttpResponseRedirect(reverse("admin:catalog_plan_change", args=[plan.pk]))
        return super().delete_view(request, object_id, extra_context)

    # --- saving through the services ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Nothing here: save_related writes the plan and its charges in one service call."""

    def save_related(self, request, form, formsets, change):
        charges_formset = next(fs for fs in formsets if isinstance(fs, ChargeInlineFormSet))
        fields = {name: form.cleaned_data[name] for name in PLAN_FIELDS}
        charges = charges_formset.charge_values()
        grants = next((fs for fs in formsets if isinstance(fs, PlanFeatureInlineFormSet)), None)
        if grants is not None:
            fields["features"] = grants.grant_values()
        if change:
            previous = Plan.objects.get(pk=form.instance.pk)
            plan = plan_update(plan=previous, **fields, charges=charges)
            if plan.pk != previous.pk:
                messages.warning(
                    request,
                    f"Version {previous.version} went into use meanwhile, so your changes were "
                    f"saved as version {plan.version}.",
                )
        else:
            plan = plan_create(code=form.cleaned_data["code"], **fields, charges=charges)
        form.instance.__dict__.update(
            {key: value for key, value in plan.__dict__.items() if key != "_state"}
        )
        form.instance._state.adding = False
        for formset in formsets:  # the change message reads what formset.save() would set
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def construct_change_message(self, request, form, formsets, add=False):
        return [{"added": {}}] if add else [{"changed": {"fields": form.changed_data}}]

    # --- custom pages ------------------------------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path(
                "<path:object_id>/calculator/",
                self.admin_site.admin_view(self.calculator_view),
                name=f"{prefix}_calculator",
            ),
            path(
                "<path:object_id>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name=f"{prefix}_new_version",
            ),
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if plan is not None:
            latest = plan_latest(code=plan.code)
            context.update(
                frozen=_frozen(plan),
                latest_version=latest if latest.pk != plan.pk else None,
                calculator_form=CalculatorForm(plan=plan),
                can_add_version=self.has_add_permission(request),
            )
        return super().change_view(request, object_id, form_url, context)

    def _plan_or_404(self, request, object_id) -> Plan:
        plan = self.get_object(request, unquote(object_id))
        if plan is None:
            raise Http404("No such plan.")
        return plan

    def new_version_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        plan = self._plan_or_404(request, object_id)
        latest = plan_latest(code=plan.code)
        if latest.pk != plan.pk and not plan_is_frozen(plan=latest):
            messages.info(request, f"Version {latest.version} is not in use yet: edit it here.")
            target = latest
        else:
            target = plan_new_version(plan=plan)
            self.log_addition(request, target, [{"added": {}}])
            messages.success(
                request,
                f"Created version {target.version} of {plan.code} from version {plan.version}. "
                "Edit it here; subscriptions keep the version they are on until moved.",
            )
        return HttpResponseRedirect(reverse("admin:catalog_plan_change", args=[target.pk]))

    def calculator_view(self, request, object_id):
        plan = self._plan_or_404(request, object_id)
        if not self.has_view_permission(request, plan):
            raise PermissionDenied
        if request.method == "POST":
            form = CalculatorForm(request.POST, plan=plan)
        else:
            form = CalculatorForm(initial={"charge": request.GET.get("charge")}, plan=plan)
        result = None
        if request.method == "POST" and form.is_valid():
            charge = Charge.objects.select_related("plan", "meter").prefetch_related("tiers")
            charge = charge.get(pk=form.cleaned_data["charge"].pk)
            preview = charge_price_preview(
                charge=charge,
                quantity=form.cleaned_data["quantity"],
                event_count=form.cleaned_data["event_count"] or 0,
            )
            result = _calculator_result(preview, charge=charge)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Price calculator: {plan}",
            "plan": plan,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/catalog/plan/calculator.html", context)


def _calculator_result(preview: dict, *, charge: Charge) -> dict:
    """The preview with amounts written for people (prices as entered, totals in the currency)."""
    currency = preview["currency"]
    rows = [
        {
            "label": line["label"],
            "units": line["units"],
            "unit_amount": price_text(Decimal(line["unit_amount"]), currency),
            "flat_amount": price_text(Decimal(line["flat_amount"]), currency),
            "amount": price_text(Decimal(line["amount"]), currency),
        }
        for line in preview["breakdown"]
    ]
    return {
        **preview,
        "charge": charge,
        "unit": charge.meter.unit,
        "amount_display": money_display(Decimal(preview["exact_amount"]), currency),
        "rows": rows,
    }
