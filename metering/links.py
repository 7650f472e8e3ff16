"""Admin links into the event debugger, for other apps (an invoice line's drill-down)."""

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from catalog.models import Meter


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event_drilldown_url(
    *, meter: Meter, external_customer_id: str, start: datetime, end: datetime
) -> str:
    """The event debugger listing exactly the events behind `usage_for_period(...)`.

    `/admin/metering/event/?external_customer_id=…&event_name=…&timestamp__gte=…&timestamp__lt=…
    &meter=<code>`: the `meter` parameter applies the meter's filters and field validity.
    """
    query = urlencode(
        {
            "external_customer_id": external_customer_id,
            "event_name": meter.event_name,
            "timestamp__gte": _when(start),
            "timestamp__lt": _when(end),
            "meter": meter.code,
        }
    )
    return f"{reverse('admin:metering_event_changelist')}?{query}"


def usage_explorer_url(
    *, meter: Meter, external_customer_id: str, start: datetime, end: datetime, bucket: str = "day"
) -> str:
    """The usage explorer charting one meter for one customer over [start, end)."""
    query = urlencode(
        {
            "meter": meter.code,
            "customer": external_customer_id,
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": end.strftime("%Y-%m-%dT%H:%M"),
            "bucket": bucket,
        }
    )
    return f"{reverse('admin:metering_event_explorer')}?{query}"
