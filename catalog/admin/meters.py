"""Meters: what is counted. Saved through the meter services, which lock a meter's counting
rules while plans in use price it."""

from django.contrib import admin

from catalog.admin.forms import MeterForm
from catalog.models import Meter
from catalog.selectors import meter_plans_in_use
from catalog.services import meter_create, meter_update
from catalog.services.meters import COUNTING_FIELDS


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    form = MeterForm
    list_display = ["code", "name", "event_name", "aggregation", "field", "unit", "reset"]
    list_filter = ["aggregation", "reset"]
    search_fields = ["code", "name", "event_name", "field"]
    ordering = ["code"]
    fieldsets = [
        (None, {"fields": ["code", "name", "description", "unit"]}),
        (
            "Counting",
            {
                "fields": ["event_name", ("aggregation", "field"), "filters", "reset", "group_by"],
                "description": "Which events count, and how they add up to a period quantity.",
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if meter_plans_in_use(meter=obj):
            return ["code", *COUNTING_FIELDS]
        return ["code"]

    def save_model(self, request, obj, form, change):
        if change:
            current = Meter.objects.get(pk=obj.pk)
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            meter = meter_update(meter=current, **changes)
        else:
            meter = meter_create(**form.cleaned_data)
        obj.__dict__.update(
            {key: value for key, value in meter.__dict__.items() if key != "_state"}
        )
        obj._state.adding = False
