"""The plan page of the console: its subscribers per version, "Move subscribers to this
version" (at period end), and a calculator pricing one sample quantity on every charge plus the
fee. catalog may not import customers (docs/architecture.md), so the console re-registers the
plan admin as a subclass of the catalog app's one."""

from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

import catalog.admin  # noqa: F401  (registers the base admin first)
from catalog.admin.plans import PlanAdmin as BasePlanAdmin
from catalog.currencies import money_display, round_to_currency
from catalog.models import Plan
from catalog.selectors import charge_price_preview
from customers.models import LIVE_STATUSES
from customers.services import plan_move_subscribers

# A sample quantity is a usage figure: the same bound as the calculator's form.
MAX_SAMPLE = Decimal("1e15")
DEFAULT_SAMPLE = Decimal("1000")


def plan_sample_prices(*, plan: Plan, quantity: Decimal) -> dict:
    """Every charge of `plan` priced at `quantity`, the base fee, and their total (each line
    rounded once to the currency, as on an invoice)."""
    rows, total = [], Decimal("0")
    for charge in plan.charges.select_related("plan", "meter").prefetch_related("tiers"):
        amount = round_to_currency(
            Decimal(charge_price_preview(charge=charge, quantity=quantity)["exact_amount"]),
            plan.currency,
        )
        total += amount
        rows.append(
            {
                "charge": charge.description or charge.meter.name,
                "model": charge.get_model_display(),
                "amount": money_display(amount, plan.currency),
            }
        )
    fee = round_to_currency(plan.base_amount, plan.currency)
    return {
        "quantity": quantity,
        "rows": rows,
        "fee": money_display(fee, plan.currency),
        "total": money_display(total + fee, plan.currency),
    }


def plan_version_subscribers(*, plan: Plan) -> list[dict]:
    """Per version of the plan's code: its live subscriptions and all its subscriptions."""
    versions = (
        Plan.objects.filter(code=plan.code)
        .annotate(
            live=Count("subscriptions", filter=Q(subscriptions__status__in=LIVE_STATUSES)),
            every=Count("subscriptions"),
        )
        .order_by("-version")
    )
    return [
        {
            "plan": version,
            "live": version.live,
            "every": version.every,
            "url": reverse("admin:customers_subscription_changelist")
            + f"?plan__id__exact={version.pk}",
        }
        for version in versions
    ]


def _sample(raw: str) -> Decimal:
    try:
        quantity = Decimal(raw)
    except (InvalidOperation, TypeError):
        return DEFAULT_SAMPLE
    if not quantity.is_finite() or not Decimal("0") <= quantity <= MAX_SAMPLE:
        return DEFAULT_SAMPLE
    return quantity


admin.site.unregister(Plan)


@admin.register(Plan)
class PlanAdmin(BasePlanAdmin):
    change_form_template = "admin/console/plan/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        plan = self.get_object(request, object_id)
        if plan is not None:
            context["sample_prices"] = plan_sample_prices(
                plan=plan, quantity=_sample(request.GET.get("sample", ""))
            )
            if request.user.has_perm("customers.view_subscription"):
                context["versions"] = plan_version_subscribers(plan=plan)
            context["can_move_subscribers"] = request.user.has_perm("customers.change_subscription")
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/move-subscribers/",
                self.admin_site.admin_view(self.move_subscribers_view),
                name="catalog_plan_move_subscribers",
            )
        ]
        return custom + super().get_urls()

    def move_subscribers_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("customers.change_subscription"):
            raise PermissionDenied
        plan = self._plan_or_404(request, object_id)
        report = plan_move_subscribers(plan=plan, at=timezone.now())
        if report.moved:
            messages.success(
                request,
                f"{len(report.moved)} subscription(s) move to {plan} at the end of their "
                "current period.",
            )
        elif not report.refused:
            messages.info(request, f"No subscriber on another version of {plan.code}.")
        for refusal in report.refused:
            messages.warning(request, refusal)
        return HttpResponseRedirect(reverse("admin:catalog_plan_change", args=[plan.pk]))
