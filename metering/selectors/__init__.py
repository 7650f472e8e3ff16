"""Reads of the metering app: usage per meter and window, event diagnosis, usage series.

The single seam where a columnar store would take over the event reads
(docs/architecture.md, "Scaling out").
"""

from metering.selectors.diagnosis import (
    EventDiagnosis,
    EventStatus,
    MeterVerdict,
    event_diagnose,
    event_status,
    events_filter_status,
    events_with_status,
)
from metering.selectors.usage import (
    GroupUsage,
    Usage,
    UsageBucket,
    events_for_usage,
    meter_events,
    usage_by_customer,
    usage_by_group,
    usage_for_period,
    usage_series,
)

__all__ = [
    "EventDiagnosis",
    "EventStatus",
    "MeterVerdict",
    "event_diagnose",
    "event_status",
    "events_filter_status",
    "events_with_status",
    "GroupUsage",
    "Usage",
    "UsageBucket",
    "events_for_usage",
    "meter_events",
    "usage_by_customer",
    "usage_by_group",
    "usage_for_period",
    "usage_series",
]
