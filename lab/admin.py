"""The pricing lab's admin: start a backtest (from a plan's page: "Backtest this draft") and read
its report — totals, movers, per-charge movement, a histogram, CSV — with a progress bar while
it runs (docs/operations.md, "Pricing lab")."""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from catalog.models import Plan
from lab.models import Backtest, BacktestStatus
from lab.selectors import backtest_csv_rows, backtest_report, money
from lab.services import MAX_CUSTOMERS_LISTED, MAX_SAMPLE, BacktestRefused, backtest_create

ROWS_SHOWN = 500  # the page's per-customer table; the CSV has every row


class BacktestForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("code", "-version"))
    period_from = forms.DateTimeField(
        label="From", help_text="UTC, e.g. 2026-01-01 00:00: periods that start on or after it."
    )
    period_to = forms.DateTimeField(
        label="To", help_text="UTC, not in the future: periods that end on or before it."
    )
    customers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"External ids, one per line or comma-separated (at most "
        f"{MAX_CUSTOMERS_LISTED}). Empty: every subscriber of the plan.",
    )
    sample = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SAMPLE,
        help_text="A random sample of this many of the plan's subscribers.",
    )

    def customer_ids(self) -> list[str] | None:
        raw = self.cleaned_data.get("customers", "")
        ids = [part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()]
        return ids or None


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "plan",
        "period_from",
        "period_to",
        "status",
        "progress_shown",
        "difference_shown",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "selection"]
    search_fields = ["plan__code", "plan__name", "requested_by"]
    list_select_related = ["plan"]
    date_hierarchy = "created_at"

    @admin.display(description="Progress")
    def progress_shown(self, backtest: Backtest) -> str:
        return f"{backtest.progress}%"

    @admin.display(description="Difference")
    def difference_shown(self, backtest: Backtest) -> str:
        if backtest.status != BacktestStatus.SUCCEEDED:
            return "—"
        return f"{money(backtest.difference_total, backtest.currency)} {backtest.currency}"

    def has_change_permission(self, request, obj=None):
        return False  # a backtest is a read-only report

    def get_urls(self):
        custom = [
            path(
                "<int:backtest_id>/csv/",
                self.admin_site.admin_view(self.csv_view),
                name="lab_backtest_csv",
            ),
        ]
        return custom + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {}
        plan_id = request.GET.get("plan", "")
        if plan_id.isdigit():
            plan = Plan.objects.filter(pk=int(plan_id)).first()
            if plan is not None:
                initial["plan"] = plan
        form = BacktestForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            values = form.cleaned_data
            try:
                backtest = backtest_create(
                    plan_code=values["plan"].code,
                    version=values["plan"].version,
                    customers=form.customer_ids(),
                    sample=values.get("sample"),
                    period_from=values["period_from"],
                    period_to=values["period_to"],
                    requested_by=f"admin:{request.user.get_username()}",
                    created_by=request.user,
                    at=timezone.now(),
                )
            except BacktestRefused as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(request, f"Backtest #{backtest.pk} started.")
                return HttpResponseRedirect(
                    reverse("admin:lab_backtest_change", args=[backtest.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Backtest a draft plan",
            "form": form,
        }
        return TemplateResponse(request, "admin/lab/backtest/start.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        backtest = self._backtest_or_404(request, object_id)
        report = backtest_report(backtest=backtest)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Backtest #{backtest.pk}: {backtest.plan}",
            "backtest": backtest,
            "report": report,
            "running": backtest.status in (BacktestStatus.QUEUED, BacktestStatus.RUNNING),
            "currency": backtest.currency,
            "rows_shown": report.rows[:ROWS_SHOWN],
            "rows_hidden": max(0, len(report.rows) - ROWS_SHOWN),
        }
        return TemplateResponse(request, "admin/lab/backtest/report.html", context)

    def csv_view(self, request, backtest_id: int):
        backtest = self._backtest_or_404(request, str(backtest_id))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="backtest-{backtest.pk}.csv"'
        writer = csv.writer(response)
        for row in backtest_csv_rows(backtest=backtest):
            writer.writerow(row)
        return response

    def _backtest_or_404(self, request, object_id: str) -> Backtest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404("No such backtest.")
        backtest = Backtest.objects.select_related("plan").filter(pk=int(object_id)).first()
        if backtest is None:
            raise Http404("No such backtest.")
        return backtest
