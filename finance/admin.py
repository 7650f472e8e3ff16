"""The admin's Finance section (docs/operations.md, "Finance"): the revenue report with its
chart and CSV, the CSV exports for a date range, the receivables aging with its CSV, and the
revenue schedules behind the report. Each page checks its own view permission, which the
roles grant per app (billing/roles.py: Finance viewer and Billing admin)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from billing.errors import AppError
from catalog.currencies import money_display
from finance.charts import revenue_chart
from finance.exports import EXPORTS, csv_response, export_response
from finance.models import (
    FinanceExport,
    ReceivablesAging,
    RevenueEntry,
    RevenueReport,
    RevenueSchedule,
)
from finance.ranges import date_range, month_range, parse_day
from finance.reports import aging_csv_rows, revenue_csv_rows
from finance.selectors import AGING_BUCKETS, receivables_aging, revenue_report


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RevenueEntryInline(admin.TabularInline):
    model = RevenueEntry
    fields = ["month", "amount", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RevenueSchedule)
class RevenueScheduleAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "invoice",
        "customer",
        "currency",
        "amount",
        "method",
        "billed_on",
        "service_start",
        "service_end",
    ]
    list_filter = ["source", "method", "currency"]
    search_fields = ["invoice__number", "customer__external_id", "credit_note__number"]
    list_select_related = ["invoice", "customer"]
    date_hierarchy = "billed_on"
    inlines = [RevenueEntryInline]


class FinancePageAdmin(ReadOnlyAdmin):
    """A report page in place of a list: its changelist is the page, it has no rows."""

    template_name = ""
    title = ""
    has_csv = False  # a csv_view at csv/, named finance_<model>_csv

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def get_urls(self):
        if not self.has_csv:
            return super().get_urls()
        name = f"finance_{self.model._meta.model_name}_csv"
        csv = path("csv/", self.admin_site.admin_view(self.csv_view), name=name)
        return [csv, *super().get_urls()]

    def _checked(self, request) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _page(self, request, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": self.title,
                **context,
            },
        )


@admin.register(RevenueReport)
class RevenueReportAdmin(FinancePageAdmin):
    template_name = "admin/finance/revenue_report.html"
    title = "Revenue report"
    has_csv = True

    def changelist_view(self, request, extra_context=None):
        self._checked(request)
        query = {name: request.GET.get(name, "") for name in ("from", "to", "currency")}
        try:
            months = month_range(query["from"], query["to"], today=timezone.now().date())
        except AppError as refusal:
            return self._page(request, query=query, errors=refusal.messages, report=[])
        report = revenue_report(
            first_month=months.first, last_month=months.last, currency=query["currency"]
        )
        sections = [
            {
                "revenue": revenue,
                "chart": revenue_chart(revenue),
                "rows": [
                    {
                        "month": month.month,
                        "billed": money_display(month.billed, revenue.currency),
                        "recognised": money_display(month.recognised, revenue.currency),
                        "deferred": money_display(month.deferred, revenue.currency),
                        "unbilled": money_display(month.unbilled, revenue.currency),
                    }
                    for month in revenue.months
                ],
                "billed": money_display(revenue.billed, revenue.currency),
                "recognised": money_display(revenue.recognised, revenue.currency),
            }
            for revenue in report
        ]
        query = {**query, "from": f"{months.first:%Y-%m}", "to": f"{months.last:%Y-%m}"}
        return self._page(request, query=query, sections=sections)

    def csv_view(self, request):
        self._checked(request)
        try:
            months = month_range(
                request.GET.get("from", ""), request.GET.get("to", ""), today=timezone.now().date()
            )
        except AppError as refusal:
            return HttpResponseBadRequest(" ".join(refusal.messages))
        report = revenue_report(
            first_month=months.first,
            last_month=months.last,
            currency=request.GET.get("currency", ""),
        )
        return csv_response(
            revenue_csv_rows(report),
            filename=f"revenue-{months.first:%Y-%m}-to-{months.last:%Y-%m}.csv",
        )


@admin.register(FinanceExport)
class FinanceExportAdmin(FinancePageAdmin):
    """Pick a kind and a date range; a valid choice downloads the CSV at once."""

    template_name = "admin/finance/exports.html"
    title = "CSV exports"

    def changelist_view(self, request, extra_context=None):
        self._checked(request)
        query = {name: request.GET.get(name, "") for name in ("kind", "from", "to")}
        errors = []
        if query["kind"] or query["from"] or query["to"]:
            if query["kind"] not in EXPORTS:
                errors.append(f"Choose what to export: {', '.join(EXPORTS)}.")
            try:
                dates = date_range(query["from"], query["to"])
            except AppError as refusal:
                errors.extend(refusal.messages)
            if not errors:
                return export_response(kind=query["kind"], dates=dates)
        return self._page(request, query=query, errors=errors, kinds=list(EXPORTS))


@admin.register(ReceivablesAging)
class ReceivablesAgingAdmin(FinancePageAdmin):
    template_name = "admin/finance/aging.html"
    title = "Receivables aging"
    has_csv = True

    def _as_of(self, request):
        text = request.GET.get("as_of", "")
        return parse_day(text, name="as_of") if text else timezone.now().date()

    def changelist_view(self, request, extra_context=None):
        self._checked(request)
        try:
            as_of = self._as_of(request)
        except AppError as refusal:
            return self._page(request, errors=refusal.messages, as_of=request.GET["as_of"])
        report = receivables_aging(as_of=as_of)

        def shown(row):
            return {
                "row": row,
                "amounts": [
                    money_display(row.buckets[key], row.currency) for key, _, _ in AGING_BUCKETS
                ],
                "total": money_display(row.total, row.currency),
            }

        return self._page(
            request,
            as_of=f"{as_of:%Y-%m-%d}",
            buckets=[label for _, label, _ in AGING_BUCKETS],
            rows=[shown(row) for row in report.rows],
            totals=[shown(row) for row in report.totals],
        )

    def csv_view(self, request):
        self._checked(request)
        try:
            as_of = self._as_of(request)
        except AppError as refusal:
            return HttpResponseBadRequest(" ".join(refusal.messages))
        return csv_response(
            aging_csv_rows(receivables_aging(as_of=as_of)), filename=f"aging-{as_of}.csv"
        )
