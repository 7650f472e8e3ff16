"""Demo data for the metering app, loaded by `manage.py seed_demo` (idempotent).

Usage for the demo customers in the previous month and the current one (the last three hours
and the current one, for the hourly plan), matching the demo meters, with deterministic event
ids so a re-run stores nothing new.
acme ends up with 50 credits, 1,000 API calls and 5 GB (its Pro invoice is $60.50); globex
with 2,500 API calls ($1,600.00 on the graduated plan); initech with 15 credits ($5.00 after
its 10 free). A few events the debugger has to explain: an unknown customer, event names no
meter listens to, a non-numeric value.
"""

from datetime import UTC, datetime

from metering.services import MAX_BATCH, events_ingest
from rating.periods import add_interval

# (customer, event name, how many, properties of each: a dict, or a function of the index)
MONTHLY_USAGE = [
    # Ten events of 5 credits, and an eleventh whose value is not a number (not counted).
    ("acme", "credits_used", 11, lambda n: {"credits": 5 if n < 10 else "lots"}),
    ("acme", "api_call", 1000, lambda n: {"endpoint": ["/v1/search", "/v1/embed"][n % 2]}),
    ("acme", "storage", 3, lambda n: {"gb": ["3", "5", "4.5"][n]}),
    ("acme", "llm_tokens", 6, lambda n: {"tokens": 1200 + 100 * n, "model": "large"}),
    ("acme", "page_view", 2, {"path": "/pricing"}),  # no meter listens to page_view
    ("acme", "credit_used", 1, {"credits": 3}),  # a typo of credits_used
    ("globex", "api_call", 2500, {"endpoint": "/v1/search"}),
    ("initech", "credits_used", 15, {"credits": 1}),
    ("umbrella", "api_call", 1200, {"endpoint": "/v1/embed"}),
    ("umbrella", "storage", 2, lambda n: {"gb": ["120", "118.25"][n]}),
    ("wayne", "api_call", 3, {"endpoint": "/v1/search"}),  # no such customer (yet)
]
HOURLY_USAGE = [("hooli", "api_call", 40, {"endpoint": "/v1/search"})]


def _spread(start: datetime, at: datetime, count: int) -> list[datetime]:
    """`count` moments evenly inside (start, at): all within one period."""
    span = at - start
    return [start + span * (n + 1) / (count + 1) for n in range(count)]


def _events(usage, *, start: datetime, at: datetime, period_key: str) -> list[dict]:
    events = []
    for customer, event_name, count, properties in usage:
        for n, moment in enumerate(_spread(start, at, count)):
            events.append(
                {
                    "event_id": f"demo-{period_key}-{customer}-{event_name}-{n}",
                    "event_name": event_name,
                    "external_customer_id": customer,
                    "timestamp": moment.isoformat(),
                    "properties": properties(n) if callable(properties) else properties,
                }
            )
    return events


def seed(*, at: datetime) -> str:
    """Store the demo events not stored yet; say how many."""
    at = at.astimezone(UTC)
    month_start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hour_start = at.replace(minute=0, second=0, microsecond=0)
    events = []
    # The same usage in each period: the closed ones are invoiced, the current one previewed.
    for periods_back, interval, usage, key_format in (
        (1, "month", MONTHLY_USAGE, "%Y-%m"),
        (3, "hour", HOURLY_USAGE, "%Y-%m-%dT%H"),
    ):
        current_start = month_start if interval == "month" else hour_start
        for back in range(periods_back, -1, -1):
            start = add_interval(current_start, interval=interval, count=-back)
            end = add_interval(start, interval=interval) if back else at
            events += _events(usage, start=start, at=end, period_key=start.strftime(key_format))
    accepted = duplicates = 0
    for offset in range(0, len(events), MAX_BATCH):
        result = events_ingest(payloads=events[offset : offset + MAX_BATCH], at=at)
        accepted += result.accepted
        duplicates += result.duplicates
    return f"Metering: {accepted} demo event(s) stored ({duplicates} already there)."
