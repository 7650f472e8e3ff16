"""Meter aggregation: one customer's events of one meter over [start, end) → one quantity.

Everything is computed by the database (exact numeric on PostgreSQL, exact Decimal functions
on SQLite); Python only divides a sum by a count for `avg` and fills empty time buckets.
Whole hours come from exact rollups when the meter has them (`rollup_usage`; docs/scaling.md),
so a read does not grow with the customer's event count.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber, Trunc
from django.db.models.lookups import Exact, In, IsNull

from catalog.models import Aggregation, Meter
from metering.expressions import (
    ExactMax,
    ExactMin,
    ExactSum,
    NonNegative,
    PropertyNumber,
    PropertyText,
)
from metering.models import Event
from metering.properties import filter_value_text
from rating.money import DIVISION

# Aggregations that read `meter.field` as a number: an event without a numeric value there
# does not count for them.
NUMERIC_AGGREGATIONS = frozenset(
    {Aggregation.SUM, Aggregation.MAX, Aggregation.MIN, Aggregation.AVG, Aggregation.LATEST}
)
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
ZERO = Decimal("0")


@dataclass(frozen=True)
class Usage:
    """A meter's quantity over a window, and how many events counted for it."""

    quantity: Decimal
    event_count: int


@dataclass(frozen=True)
class GroupUsage:
    """Usage of one value of the meter's `group_by` property (None: events without it)."""

    group: str | None
    quantity: Decimal
    event_count: int


@dataclass(frozen=True)
class UsageBucket:
    """Usage over [start, start + one hour or day)."""

    start: datetime
    quantity: Decimal
    event_count: int


def meter_condition(*, meter: Meter) -> Q:
    """What an event must satisfy to count for `meter`, as a condition on its own row.

    Its event name, not excluded from billing by an operator, its filters (property equals one
    of the values) and, for a numeric aggregation, a number of zero or more at `meter.field`
    (negative values are never counted: docs/api.md "Bounds"); for unique_count, a value there.
    """
    parts: list = [Exact(F("event_name"), meter.event_name), IsNull(F("excluded_at"), True)]
    for prop, allowed in sorted((meter.filters or {}).items()):
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        if not values:
            return Q(pk__in=[])
        parts.append(In(PropertyText(prop), [filter_value_text(value) for value in values]))
    if meter.aggregation in NUMERIC_AGGREGATIONS:
        parts.append(NonNegative(PropertyNumber(meter.field)))
    elif meter.aggregation == Aggregation.UNIQUE_COUNT:
        parts.append(IsNull(PropertyText(meter.field), False))
    return Q(*parts)


def meter_events(*, meter: Meter, events: QuerySet[Event] | None = None) -> QuerySet[Event]:
    """The events (of `events`, default all) that count for `meter` in any window."""
    if events is None:
        events = Event.objects.all()
    return events.filter(meter_condition(meter=meter))


def events_for_usage(
    *, meter: Meter, external_customer_id: str, start: datetime, end: datetime
) -> QuerySet[Event]:
    """Exactly the events that count for `usage_for_period` with the same arguments."""
    events = Event.objects.filter(
        external_customer_id=external_customer_id, timestamp__gte=start, timestamp__lt=end
    )
    return meter_events(meter=meter, events=events)


def usage_for_period(
    *, meter: Meter, external_customer_id: str, start: datetime, end: datetime
) -> Usage:
    """The meter's quantity for one customer over [start, end): 0 when nothing counted.

    For reset = never meters the caller passes the subscription's start as `start`.
    `latest` is the value of the last counted event (by timestamp, then arrival).
    """
    stored = _from_clickhouse(meter, [external_customer_id], start, end, key=None)
    if stored is not None:
        return stored.get(None, Usage(ZERO, 0))
    rolled_up = _from_rollups(
        meter, [external_customer_id], start, end, rollup_key=None, event_key=None
    )
    if rolled_up is not None:
        return rolled_up.get(None, Usage(ZERO, 0))
    events = events_for_usage(
        meter=meter, external_customer_id=external_customer_id, start=start, end=end
    )
    return _aggregate_by(events, meter=meter, key=None).get(None, Usage(ZERO, 0))


def usage_for_windows(
    *, external_customer_id: str, windows: list[tuple[Meter, datetime, datetime]]
) -> dict[tuple[int, datetime, datetime], Usage]:
    """`usage_for_period` of several (meter, start, end) windows of one customer:
    {(meter pk, start, end): Usage}, the same figures, in at most three queries on the database
    backend (metering.selectors.rollup_usage.windows_partials) instead of up to four per window,
    and under EVENTS_BACKEND=clickhouse in two database queries, one over ClickHouse's rollups
    and one raw per window (metering.selectors.clickhouse_usage.clickhouse_windows).

    For the upcoming invoice and the ongoing balance, which read every charge's meter of one
    period. Read one by one, through the same selector as always: a meter's second window, on
    the database a `latest` meter and a meter whose filters allow nothing, on ClickHouse a
    `unique_count` meter.
    """
    from metering.clickhouse import clickhouse_enabled
    from metering.selectors.clickhouse_usage import clickhouse_windows
    from metering.selectors.rollup_usage import windows_partials

    found: dict[tuple[int, datetime, datetime], Usage] = {}
    batch, single, meters = [], [], set()
    on_clickhouse = clickhouse_enabled()
    for meter, start, end in dict.fromkeys(windows):
        if start >= end:
            found[(meter.pk, start, end)] = Usage(ZERO, 0)
        elif (
            meter.pk is None
            or meter.pk in meters
            or (on_clickhouse and meter.aggregation == Aggregation.UNIQUE_COUNT)
            or (not on_clickhouse and meter.aggregation == Aggregation.LATEST)
            or (not on_clickhouse and _allows_nothing(meter))
        ):
            single.append((meter, start, end))
        else:
            batch.append((meter, start, end))
            meters.add(meter.pk)
    partials = None
    if batch and on_clickhouse:
        partials = clickhouse_windows(external_customer_id=external_customer_id, windows=batch)
        if partials is None:  # the outbox is far behind: each read goes to the database
            single, batch = single + batch, []
    elif batch:
        partials = windows_partials(
            external_customer_id=external_customer_id,
            windows=batch,
            condition=meter_condition,
        )
    if batch:
        for meter, start, end in batch:
            partial = partials.get((meter.pk, start, end))
            found[(meter.pk, start, end)] = (
                Usage(ZERO, 0)
                if partial is None
                else Usage(partial.quantity(meter.aggregation), partial.count)
            )
    for meter, start, end in single:
        found[(meter.pk, start, end)] = usage_for_period(
            meter=meter, external_customer_id=external_customer_id, start=start, end=end
        )
    return found


def _allows_nothing(meter: Meter) -> bool:
    """Whether one of the meter's filters lists no value (meter_condition: nothing counts)."""
    return any(
        isinstance(allowed, list | tuple) and not allowed
        for allowed in (meter.filters or {}).values()
    )


def usage_by_customer(
    *, meter: Meter, external_customer_ids: list[str], start: datetime, end: datetime
) -> dict[str, Usage]:
    """`usage_for_period` of many customers over one window, in one query: {id: Usage}.

    Customers without counted events are left out (their usage is 0). For the cycle close,
    which bills many subscriptions whose periods end together; the caller keeps the list of
    ids to a few thousand per call.
    """
    stored = _from_clickhouse(meter, list(external_customer_ids), start, end, key="customer")
    if stored is not None:
        return stored
    customer = F("external_customer_id")
    rolled_up = _from_rollups(
        meter, list(external_customer_ids), start, end, rollup_key=customer, event_key=customer
    )
    if rolled_up is not None:
        return rolled_up
    events = Event.objects.filter(
        external_customer_id__in=external_customer_ids, timestamp__gte=start, timestamp__lt=end
    )
    events = meter_events(meter=meter, events=events)
    return _aggregate_by(events, meter=meter, key=customer)


def usage_by_group(
    *,
    meter: Meter,
    external_customer_id: str,
    start: datetime,
    end: datetime,
    group_by: str = "",
) -> list[GroupUsage]:
    """The same usage split by the meter's `group_by` property (or `group_by` if given).

    Largest first; events without the property form the group None. For display only: a
    charge is rated on the total, not per group.
    """
    prop = group_by or meter.group_by
    events = events_for_usage(
        meter=meter, external_customer_id=external_customer_id, start=start, end=end
    )
    if not prop:
        usage = usage_for_period(
            meter=meter, external_customer_id=external_customer_id, start=start, end=end
        )
        return (
            [] if not usage.event_count else [GroupUsage(None, usage.quantity, usage.event_count)]
        )
    usages = _from_clickhouse(meter, [external_customer_id], start, end, key=("property", prop))
    if (
        usages is None and prop == meter.group_by
    ):  # rollups are kept per value of the meter's own group_by
        usages = _from_rollups(
            meter,
            [external_customer_id],
            start,
            end,
            rollup_key=F("group_value"),
            event_key=PropertyText(prop),
        )
    if usages is None:
        usages = _aggregate_by(events, meter=meter, key=PropertyText(prop))
    groups = [GroupUsage(key, usage.quantity, usage.event_count) for key, usage in usages.items()]
    return sorted(groups, key=lambda group: (-group.quantity, group.group is None, group.group))


def usage_series(
    *,
    meter: Meter,
    external_customer_id: str,
    start: datetime,
    end: datetime,
    bucket: str,
) -> list[UsageBucket]:
    """Usage per hour or per day (UTC) over [start, end), every bucket present (0 if empty)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}.")
    usages = _from_clickhouse(meter, [external_customer_id], start, end, key=("bucket", bucket))
    if usages is None:
        usages = _from_rollups(
            meter,
            [external_customer_id],
            start,
            end,
            rollup_key=Trunc("bucket_start", bucket, tzinfo=UTC),
            event_key=Trunc("timestamp", bucket, tzinfo=UTC),
        )
    if usages is None:
        events = events_for_usage(
            meter=meter, external_customer_id=external_customer_id, start=start, end=end
        )
        usages = _aggregate_by(events, meter=meter, key=Trunc("timestamp", bucket, tzinfo=UTC))
    by_start = {key.astimezone(UTC): usage for key, usage in usages.items()}
    step = BUCKETS[bucket]
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        first = first.replace(hour=0)
    buckets = []
    moment = first
    while moment < end:
        usage = by_start.get(moment, Usage(ZERO, 0))
        buckets.append(UsageBucket(moment, usage.quantity, usage.event_count))
        moment += step
    return buckets


def _from_clickhouse(meter, customers, start, end, *, key) -> dict | None:
    """{key: Usage} from ClickHouse under EVENTS_BACKEND=clickhouse, else None (read the
    database). See metering.selectors.clickhouse_usage for `key`."""
    from metering.clickhouse import clickhouse_enabled
    from metering.selectors.clickhouse_usage import clickhouse_usage

    if not clickhouse_enabled():
        return None
    found = clickhouse_usage(
        meter=meter, external_customer_ids=customers, start=start, end=end, key=key
    )
    if found is None:
        return None
    return {group: Usage(quantity, count) for group, (count, quantity) in found.items()}


def _from_rollups(meter, customers, start, end, *, rollup_key, event_key) -> dict | None:
    """{key: Usage} through rollups, or None when they cannot answer (then read raw)."""
    from metering.selectors.rollup_usage import rollup_partials

    partials = rollup_partials(
        meter=meter,
        external_customer_ids=customers,
        start=start,
        end=end,
        rollup_key=rollup_key,
        event_key=event_key,
        events_in_scope=lambda events: meter_events(meter=meter, events=events),
    )
    if partials is None:
        return None
    aggregation = meter.aggregation
    return {
        key: Usage(partial.quantity(aggregation), partial.count)
        for key, partial in partials.items()
    }


def _aggregate_by(events: QuerySet[Event], *, meter: Meter, key) -> dict:
    """{value of the expression `key`: Usage} over `events`; key None gives one group, None."""
    aggregation = meter.aggregation
    aggregates = {"usage_events": Count("id")}
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        aggregates["usage_quantity"] = ExactSum(PropertyNumber(meter.field))
    elif aggregation == Aggregation.MAX:
        aggregates["usage_quantity"] = ExactMax(PropertyNumber(meter.field))
    elif aggregation == Aggregation.MIN:
        aggregates["usage_quantity"] = ExactMin(PropertyNumber(meter.field))
    elif aggregation == Aggregation.UNIQUE_COUNT:
        aggregates["usage_quantity"] = Count(PropertyText(meter.field), distinct=True)

    if key is None:
        totals = events.aggregate(**aggregates)
        rows = [(None, totals)] if totals["usage_events"] else []
    else:
        grouped = events.annotate(usage_key=key).values("usage_key").annotate(**aggregates)
        rows = [(row["usage_key"], row) for row in grouped.order_by()]
    latest = _latest_values(events, meter=meter, key=key) if aggregation == "latest" else {}

    usages = {}
    for group, row in rows:
        count = row["usage_events"]
        if aggregation == Aggregation.COUNT:
            quantity = Decimal(count)
        elif aggregation == Aggregation.LATEST:
            quantity = latest[group]
        elif aggregation == Aggregation.AVG:
            with localcontext(DIVISION):
                quantity = row["usage_quantity"] / count
        else:
            quantity = Decimal(row["usage_quantity"])
        usages[group] = Usage(quantity, count)
    return usages


def _latest_values(events: QuerySet[Event], *, meter: Meter, key) -> dict:
    """{group: value of its last counted event}, last by timestamp then by arrival (id)."""
    value = PropertyNumber(meter.field)
    if key is None:
        last = events.annotate(usage_value=value).order_by("-timestamp", "-id")
        return {None: last.values_list("usage_value", flat=True).first()}
    ranked = events.annotate(
        usage_key=key,
        usage_value=value,
        usage_rank=Window(
            RowNumber(),
            partition_by=[F("usage_key")],
            order_by=[F("timestamp").desc(), F("id").desc()],
        ),
    ).filter(usage_rank=1)
    return dict(ranked.values_list("usage_key", "usage_value"))
