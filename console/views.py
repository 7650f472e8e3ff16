"""The console's own pages: the dashboard (the admin's home) and usage across customers.

Thin: each view checks the user's permissions, calls the selectors in console/selectors.py and
renders. docs/operations.md, "The console".
"""

from datetime import UTC, timedelta
from urllib.parse import urlencode

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from billing.exports import csv_response, queryset_csv_response
from catalog.currencies import money_display
from catalog.models import Meter
from console.charts import month_chart
from console.forms import UsageRangeForm
from console.selectors import (
    events_recent,
    failed_payments_open,
    invoices_by_status,
    mrr,
    revenue_by_month,
    usage_top_customers,
)
from payments.selectors import receivables
from rating.money import decimal_string

TOP_CUSTOMERS = 5


def _month_start(at):
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def dashboard_view(site, request):
    """The admin's home: what an operator checks first, each figure linking to its list."""
    at = timezone.now()
    user = request.user
    context = {**site.each_context(request), "title": "Dashboard", "at": at}
    if user.has_perm("customers.view_subscription"):
        context["mrr"] = [
            {
                "currency": row.currency,
                "amount": money_display(row.amount, row.currency),
                "change": money_display(row.change, row.currency),
                "up": row.change >= 0,
            }
            for row in mrr(at=at)
        ]
    if user.has_perm("invoices.view_invoice"):
        invoices_url = reverse("admin:invoices_invoice_changelist")
        revenue = revenue_by_month(at=at)
        context["revenue_charts"] = [
            {"currency": currency, "chart": month_chart(rows, currency=currency)}
            for currency, rows in _by_currency(revenue).items()
        ]
        context["by_status"] = [
            {"label": label, "count": count, "url": f"{invoices_url}?status__exact={status}"}
            for status, label, count in invoices_by_status()
        ]
        context["receivables"] = [
            {
                "currency": row.currency,
                "outstanding": money_display(row.outstanding, row.currency),
                "overdue": money_display(row.overdue, row.currency),
                "overdue_invoices": row.overdue_invoices,
            }
            for row in receivables(today=at.date())
        ]
        context["invoices_url"] = invoices_url
    if user.has_perm("payments.view_payment"):
        count, latest = failed_payments_open()
        context["failed_payments"] = {"count": count, "latest": latest}
    if user.has_perm("metering.view_event"):
        start = _month_start(at)
        context["usage_start"] = start
        context["top_usage"] = [
            {"meter": meter, "rows": usage_top_customers(meter=meter, start=start, end=at, limit=3)}
            for meter in Meter.objects.order_by("code")
        ]
        context["events"] = events_recent(at=at)
        # The event list of the same 24 hours (the debugger's status filter narrows it further).
        since = (at - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
        context["events_url"] = (
            reverse("admin:metering_event_changelist") + "?" + urlencode({"received_at__gt": since})
        )
    return TemplateResponse(request, site.index_template, context)


def _by_currency(rows) -> dict:
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(row.currency, []).append(row)
    return grouped


def app_index_view(site, request):
    """The stock list of every model the user may open ("All models")."""
    context = {
        **site.each_context(request),
        "title": "All models",
        "app_list": site.get_app_list(request),
    }
    return TemplateResponse(request, "admin/index.html", context)


def usage_view(site, request):
    """Per meter, the customers' usage over a range of days, largest first; `?format=csv`."""
    if not request.user.has_perm("metering.view_event"):
        raise PermissionDenied
    today = timezone.now().date()
    # This month so far unless a range is asked for.
    form = UsageRangeForm({"start": today.replace(day=1), "end": today, **request.GET.dict()})
    meters = list(Meter.objects.order_by("code"))
    selected = request.GET.get("meter", "")
    if selected:
        meters = [meter for meter in meters if meter.code == selected]
    context = {
        **site.each_context(request),
        "title": "Usage by customer",
        "form": form,
        "meter_codes": Meter.objects.order_by("code").values_list("code", flat=True),
        "selected": selected,
    }
    if form.is_valid():
        start, end = form.window()
        tables = []
        for meter in meters:
            total, rows = usage_top_customers(meter=meter, start=start, end=end)
            tables.append({"meter": meter, "total": total, "rows": rows})
        if request.GET.get("format") == "csv":
            return csv_response(
                "usage",
                ["meter", "customer", "customer_name", "quantity", "unit", "events", "from", "to"],
                (
                    [
                        table["meter"].code,
                        row.external_id,
                        row.customer.name if row.customer else "",
                        decimal_string(row.usage.quantity),
                        table["meter"].unit,
                        row.usage.event_count,
                        start.date().isoformat(),
                        form.cleaned_data["end"].isoformat(),
                    ]
                    for table in tables
                    for row in table["rows"]
                ),
            )
        context.update(tables=tables, start=start, end=end, csv_query=request.GET.urlencode())
    return TemplateResponse(request, "admin/console/usage.html", context)


def export_view(site, request, app_label: str, model_name: str):
    """A whole list as CSV, with the filters and search of the list page it is linked from
    (the list's own ChangeList reads them, so the rows are the list's rows)."""
    model_admin = next(
        (
            admin_
            for model, admin_ in site._registry.items()
            if (model._meta.app_label, model._meta.model_name) == (app_label, model_name)
        ),
        None,
    )
    if model_admin is None:
        raise Http404("No such list.")
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        return HttpResponseBadRequest("Those filters do not apply to this list.")
    return queryset_csv_response(changelist.get_queryset(request))
