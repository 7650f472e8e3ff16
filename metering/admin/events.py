"""The event debugger (Event changelist and detail) and the usage explorer page.

Events are immutable: the admin only views them. The list shows each event's status (counted,
no meter, refused by its meters, unknown customer, no subscription, late) and filters on it;
the detail explains, meter by meter, why the event counts or not.
"""

from datetime import UTC, timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from catalog.models import Meter
from customers.models import Customer
from metering.admin.pagination import NextPagePaginator, page_number_from
from metering.charts import bar_chart
from metering.forms import UsageExplorerForm
from metering.links import event_drilldown_url, usage_explorer_url
from metering.models import Event
from metering.properties import json_text
from metering.selectors import (
    EventStatus,
    event_diagnose,
    event_status,
    events_filter_status,
    events_status_since,
    events_with_status,
    meter_events,
    usage_by_group,
    usage_for_period,
    usage_series,
)
from metering.services import event_exclude

STATUS_COLOURS = {
    EventStatus.COUNTED: "#1b7f3b",
    EventStatus.NO_METER: "#a15c00",
    EventStatus.NOT_COUNTED: "#a15c00",
    EventStatus.UNKNOWN_CUSTOMER: "#b3261e",
    EventStatus.NO_SUBSCRIPTION: "#b3261e",
    EventStatus.LATE: "#6a3fb5",
}


class EventStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return EventStatus.choices

    def queryset(self, request, queryset):
        # Applied by EventChangeList after the other filters and the search: the newest events
        # it searches are those of the list they narrow (docs/performance.md).
        return queryset


class EventChangeList(ChangeList):
    """The event list; a status filter searches only the newest `status_window` events of the
    list its other filters and search give (`status_since`: from when), so that a status that
    matches few or none of them reads a bounded number of rows (docs/performance.md). Late
    events are found through their own index: that filter searches them all."""

    status_since = None

    def get_queryset(self, request, exclude_parameters=None):
        events = super().get_queryset(request, exclude_parameters)
        status = self.params.get(EventStatusFilter.parameter_name)
        if status not in EventStatus.values:
            return events
        if status != EventStatus.LATE:
            self.status_since = events_status_since(
                events=events, newest=self.model_admin.status_window
            )
            if self.status_since is not None:
                events = events.filter(received_at__gte=self.status_since)
        return events_filter_status(events=events, status=status)

    def get_results(self, request):
        super().get_results(request)
        # Django reads the whole list again when it fits one page, or for "show all": the
        # paginator holds the page's rows already, and "all" of millions of events is no page.
        self.result_list = self.paginator.page(self.page_num).object_list

    @property
    def status_label(self) -> str:
        return EventStatus(self.params[EventStatusFilter.parameter_name]).label


class MeterFilter(admin.SimpleListFilter):
    """`?meter=<code>`: the events that meter counts (its name, filters and field validity)."""

    title = "counted by meter"
    parameter_name = "meter"

    def lookups(self, request, model_admin):
        return [(meter.code, str(meter)) for meter in Meter.objects.order_by("code")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        meter = Meter.objects.filter(code=self.value()).first()
        if meter is None:
            return queryset.none()
        return meter_events(meter=meter, events=queryset)


class EventNameFilter(admin.SimpleListFilter):
    """The names meters listen to (any other name works through `?event_name=`)."""

    title = "event name"
    parameter_name = "event_name"

    def lookups(self, request, model_admin):
        names = Meter.objects.order_by("event_name").values_list("event_name", flat=True)
        return [(name, name) for name in dict.fromkeys(names)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(event_name=self.value())


def _customer_admin_url(customer_pk: int) -> str | None:
    try:
        return reverse("admin:customers_customer_change", args=[customer_pk])
    except NoReverseMatch:
        return None


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = [
        "occurred",
        "event_name",
        "customer",
        "event_id",
        "status",
        "properties_preview",
        "received",
    ]
    list_display_links = ["occurred", "event_name"]
    list_filter = [
        EventStatusFilter,
        MeterFilter,
        EventNameFilter,
        ("timestamp", admin.DateFieldListFilter),
    ]
    search_fields = ["=external_customer_id", "=event_id"]
    search_help_text = "A customer's external id, or else an event id (exact)."
    list_select_related = []  # no relations: customers are matched by external id
    list_per_page = 50
    show_full_result_count = False
    # Facet counts would run every status filter over the whole table on each page view.
    show_facets = admin.ShowFacets.NEVER
    ordering = ["-received_at", "-id"]
    # A status filter searches at most this many of the newest events of the list
    # (EventChangeList; docs/performance.md); older ones are reached by narrowing the list.
    status_window = 50_000
    fields = [
        "event_id",
        "event_name",
        "external_customer_id",
        "timestamp",
        "received_at",
        "is_late",
        "properties_pretty",
        "excluded_at",
        "excluded_by",
        "excluded_reason",
    ]
    readonly_fields = fields
    change_list_template = "admin/metering/event/change_list.html"
    change_form_template = "admin/metering/event/change_form.html"

    # Events are immutable records of what happened: view only.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return events_with_status(events=super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return EventChangeList

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        # Django's own renders a form widget through a template per row: a third of the
        # page's rendering. The same markup, written directly (docs/performance.md).
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            obj,
        )

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # Never count the events table: read the page and one row more (docs/performance.md).
        return NextPagePaginator(
            queryset,
            per_page,
            orphans=0,
            allow_empty_first_page=allow_empty_first_page,
            page_number=page_number_from(request),
        )

    def get_search_results(self, request, queryset, search_term):
        """A customer's events when some have that external id, else the event with that id:
        one condition, so each is an index scan in the list's order (docs/performance.md)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if Event.objects.filter(external_customer_id=term).exists():
            return queryset.filter(external_customer_id=term), False
        return queryset.filter(event_id=term), False

    @admin.display(description="timestamp (UTC)", ordering="timestamp")
    def occurred(self, event):
        return event.timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="received (UTC)", ordering="received_at")
    def received(self, event):
        return event.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="customer", ordering="external_customer_id")
    def customer(self, event):
        url = _customer_admin_url(event.customer_pk) if event.customer_pk else None
        if url:
            return format_html('<a href="{}">{}</a>', url, event.external_customer_id)
        if event.customer_pk:
            return event.external_customer_id
        return format_html('{} <span title="unknown customer">⚠</span>', event.external_customer_id)

    @admin.display(description="status")
    def status(self, event):
        status = event_status(event=event)
        return format_html(
            '<span style="color:{};font-weight:600">{}</span>',
            STATUS_COLOURS[status],
            EventStatus(status).label,
        )

    @admin.display(description="properties")
    def properties_preview(self, event):
        text = json_text(event.properties)
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="properties")
    def properties_pretty(self, event):
        return format_html("<pre>{}</pre>", json_text(event.properties, indent=2))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        event = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if event is not None:
            diagnosis = event_diagnose(event=event)
            extra_context["diagnosis"] = diagnosis
            extra_context["status_colour"] = STATUS_COLOURS[diagnosis.status]
            day = event.timestamp.replace(hour=0, minute=0, second=0, microsecond=0)
            extra_context["meter_links"] = [
                {
                    "verdict": verdict,
                    "explorer_url": usage_explorer_url(
                        meter=verdict.meter,
                        external_customer_id=event.external_customer_id,
                        start=day,
                        end=day + timedelta(days=1),
                        bucket="hour",
                    ),
                }
                for verdict in diagnosis.verdicts
            ]
            if diagnosis.customer is not None:
                extra_context["customer_url"] = _customer_admin_url(diagnosis.customer.pk)
            extra_context["can_exclude"] = event.excluded_at is None and request.user.has_perm(
                "metering.change_event"
            )
            if event.is_late and request.user.has_perm("invoices.change_invoice"):
                # The invoices admin finds the period's invoice (metering does not import it).
                query = urlencode(
                    {"customer": event.external_customer_id, "at": event.timestamp.isoformat()}
                )
                extra_context["rebill_url"] = (
                    f"{reverse('admin:invoices_invoice_rebill_event')}?{query}"
                )
        return super().change_view(request, object_id, form_url, extra_context)

    # --- usage explorer ------------------------------------------------------------------

    def get_urls(self):
        explorer = path(
            "explorer/",
            self.admin_site.admin_view(self.explorer_view),
            name="metering_event_explorer",
        )
        exclude = path(
            "<path:object_id>/exclude/",
            self.admin_site.admin_view(self.exclude_view),
            name="metering_event_exclude",
        )
        return [explorer, exclude, *super().get_urls()]

    def exclude_view(self, request, object_id):
        """POST: exclude the event from billing, with the operator's reason (kept on it)."""
        if not request.user.has_perm("metering.change_event"):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        event = self.get_object(request, object_id)
        if event is None:
            raise Http404
        try:
            event_exclude(
                event=event,
                reason=request.POST.get("reason", ""),
                by=request.user.get_username(),
                at=timezone.now(),
            )
        except ValidationError as refusal:
            self.message_user(request, " ".join(refusal.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Event {event.event_id} is excluded from billing; the next close bills "
                "without it.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:metering_event_change", args=[event.pk]))

    def explorer_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = UsageExplorerForm(request.GET or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage explorer",
            "opts": self.model._meta,
            "form": form,
            "customer_ids": Customer.objects.order_by("external_id").values_list(
                "external_id", flat=True
            )[:500],
        }
        if form.is_bound and form.is_valid():
            context.update(_explore(**form.cleaned_data))
        return TemplateResponse(request, "admin/metering/event/usage_explorer.html", context)


def _explore(*, meter, customer, start, end, bucket) -> dict:
    window = {"meter": meter, "external_customer_id": customer, "start": start, "end": end}
    series = usage_series(**window, bucket=bucket)
    return {
        "meter": meter,
        "customer": customer,
        "total": usage_for_period(**window),
        "series": series,
        "chart": bar_chart(series, bucket=bucket, unit=meter.unit),
        "groups": usage_by_group(**window) if meter.group_by else [],
        "events_url": event_drilldown_url(**window),
        "bucket": bucket,
    }
