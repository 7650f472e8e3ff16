"""Reads of the metering app: usage per meter and window, event diagnosis, usage series.

The single seam where ClickHouse takes over the usage reads under EVENTS_BACKEND=clickhouse
(metering/selectors/clickhouse_usage.py; docs/scaling.md, "ClickHouse as the event store").
"""

from metering.selectors.diagnosis import (
    EventDiagnosis,
    EventStatus,
    MeterVerdict,
    event_diagnose,
    event_status,
    events_filter_status,
    events_status_since,
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
    usage_for_windows,
    usage_series,
)

__all__ = [
    "EventDiagnosis",
    "EventStatus",
    "MeterVerdict",
    "event_diagnose",
    "event_status",
    "events_filter_status",
    "events_status_since",
    "events_with_status",
    "GroupUsage",
    "Usage",
    "UsageBucket",
    "events_for_usage",
    "meter_events",
    "usage_by_customer",
    "usage_by_group",
    "usage_for_period",
    "usage_for_windows",
    "usage_series",
]
