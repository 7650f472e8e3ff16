"""Reads of the metering app: usage per meter, event diagnosis, the customer's usage so far.

The single seam where a columnar store would take over the event reads (DESIGN §5).
"""

from metering.selectors.customer_usage import CustomerUsage, MeterUsage, customer_usage
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
    "CustomerUsage",
    "EventDiagnosis",
    "EventStatus",
    "MeterVerdict",
    "event_diagnose",
    "event_status",
    "events_filter_status",
    "events_with_status",
    "MeterUsage",
    "customer_usage",
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
