"""Exact usage rollups: writes (mark, refresh, rebuild) and the check against raw events.

A rollup holds one meter's figures (count, sum, min, max, latest) for one customer over one
UTC hour, computed from the raw events with the meter's own condition. Ingestion appends a
dirty mark per (customer, event name, hour) it touched, in its own transaction; the
"refresh-usage-rollups" task (every minute) recomputes the marked hours from raw events and
removes the marks it saw. Reads (metering.selectors) take whole clean hours from rollups, and
the window's edges and the dirty hours from raw events, so they are exact at every moment.
See docs/scaling.md.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, TextField, Value, Window
from django.db.models.functions import RowNumber, Trunc

from catalog.models import Aggregation, Meter
from metering.expressions import ExactMax, ExactMin, ExactSum, PropertyNumber, PropertyText
from metering.models import Event, RollupCoverage, RollupDirtyBucket, RollupHorizon, UsageRollup

HOUR = timedelta(hours=1)
NUMERIC = frozenset(
    {Aggregation.SUM, Aggregation.MAX, Aggregation.MIN, Aggregation.AVG, Aggregation.LATEST}
)
# unique_count stays on raw events: a distinct count does not add up over hours.
ROLLED_UP = frozenset({Aggregation.COUNT, *NUMERIC})
# Hours recomputed per query, and marks drained per task run (the rest wait for the next).
RANGES_PER_QUERY = 200
MARKS_PER_REFRESH = 100_000
# Hours sealed per task run (a stopped task catches up a day per minute).
HOURS_PER_SEAL = 24
# Where the sealing finds an hour's on-time events: received from this long before the hour
# to this long after it (metering.services.ON_TIME allows 10 minutes ahead, 1 minute of skew).
RECEIVED_BEFORE_HOUR = timedelta(minutes=15)
RECEIVED_AFTER_HOUR = timedelta(minutes=5)
# An hour is sealed this long after its end at the earliest (see seal_limit).
SEAL_AFTER = timedelta(minutes=1)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def meter_definition(*, meter: Meter) -> str:
    """A digest of what a meter's rollups depend on: editing any of it makes them stale."""
    parts = [
        meter.event_name,
        meter.aggregation,
        meter.field,
        meter.filters or {},
        meter.group_by,
    ]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def meter_rolled_up(*, meter: Meter) -> bool:
    """Whether reads of `meter` may use rollups: rolled-up aggregation, rollups complete."""
    if meter.aggregation not in ROLLED_UP or meter.pk is None:
        return False
    return RollupCoverage.objects.filter(
        meter_id=meter.pk, definition=meter_definition(meter=meter)
    ).exists()


def rollups_horizon() -> datetime | None:
    """Up to where hours are sealed (RollupHorizon): reads take the hours before it from
    rollups (but for dirty ones) and the rest from raw events. None: nothing is sealed."""
    return RollupHorizon.objects.values_list("sealed_until", flat=True).first()


# --- ingestion ---------------------------------------------------------------------------


def rollups_mark_dirty(*, buckets: Iterable[tuple[str, str, datetime]]) -> int:
    """Append a dirty mark per distinct (customer, event name, hour): call it in the ingest
    transaction, with each event's timestamp (any moment in the hour)."""
    distinct = sorted({(customer, name, hour_floor(moment)) for customer, name, moment in buckets})
    if connection.vendor != "postgresql":
        RollupDirtyBucket.objects.bulk_create(
            RollupDirtyBucket(external_customer_id=customer, event_name=name, bucket_start=hour)
            for customer, name, hour in distinct
        )
        return len(distinct)
    # One statement with three arrays: a batch of 1,000 events can touch hundreds of hours.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RollupDirtyBucket._meta.db_table} "
            "(external_customer_id, event_name, bucket_start) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[])",
            [list(column) for column in zip(*distinct, strict=True)] if distinct else [[], [], []],
        )
    return len(distinct)


# --- refresh -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    marks: int
    hours: int
    rebuilt_meters: list[str]
    sealed: int = 0

    def summary(self) -> str:
        rebuilt = f", rebuilt {', '.join(self.rebuilt_meters)}" if self.rebuilt_meters else ""
        return (
            f"{self.marks} dirty marks, {self.hours} hours recomputed, "
            f"{self.sealed} hours sealed{rebuilt}"
        )


def rollups_refresh(*, at: datetime, limit: int = MARKS_PER_REFRESH) -> RefreshResult:
    """The "refresh-usage-rollups" task: build the rollups of one meter not covered yet (new
    or edited), recompute the hours marked dirty (up to `limit` marks) and remove the marks
    it saw, then seal the hours that are over (`rollups_seal`). Marks appended meanwhile stay
    for the next run, so nothing is ever missed."""
    # One meter per run, so that a run stays short; on a large events table, run
    # `manage.py rebuild_rollups --meter CODE` right after creating or editing a meter.
    uncovered = (
        meter
        for meter in Meter.objects.filter(aggregation__in=ROLLED_UP).order_by("pk")
        if not meter_rolled_up(meter=meter)
    )
    rebuilt = []
    meter = next(uncovered, None)
    if meter is not None:
        rollups_rebuild(meter=meter, at=at)
        rebuilt.append(meter.code)
    with transaction.atomic():
        marks = list(
            RollupDirtyBucket.objects.order_by("pk").values_list(
                "pk", "external_customer_id", "event_name", "bucket_start"
            )[:limit]
        )
        hours_by_name: dict[str, set[tuple[str, datetime]]] = defaultdict(set)
        for _, customer, name, hour in marks:
            hours_by_name[name].add((customer, hour))
        hours = 0
        for meter in _covered_meters(event_names=set(hours_by_name)):
            hours += _recompute(meter=meter, hours=hours_by_name[meter.event_name])
        pks = [mark[0] for mark in marks]
        for offset in range(0, len(pks), 10_000):
            RollupDirtyBucket.objects.filter(pk__in=pks[offset : offset + 10_000]).delete()
    sealed = rollups_seal(at=at)
    return RefreshResult(marks=len(marks), hours=hours, rebuilt_meters=rebuilt, sealed=sealed)


def rollups_seal(*, at: datetime) -> int:
    """Seal the hours that are over, up to HOURS_PER_SEAL of them; returns how many.

    On PostgreSQL an on-time event marks no hour (metering.services.ON_TIME), so sealing an
    hour recomputes every customer that received events in it. It waits until no transaction
    that began before the hour's end is still open (such a transaction may hold on-time events
    of the hour that this run could not see), then recomputes, in one transaction with the
    horizon's row locked, and moves the horizon on. SQLite marks every event: its hours are
    sealed as soon as they are over (docs/scaling.md, "Sealed hours").
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            horizon = RollupHorizon.objects.select_for_update().filter(pk=1).first()
            if horizon is None:
                horizon = RollupHorizon(pk=1, sealed_until=hour_floor(at))
            horizon.sealed_until = max(horizon.sealed_until, hour_floor(at))
            horizon.save()
        return 0
    limit = seal_limit()
    sealed = 0
    with transaction.atomic():
        horizon = RollupHorizon.objects.select_for_update().filter(pk=1).first()
        if horizon is None:
            horizon = RollupHorizon(pk=1, sealed_until=_first_unsealed_hour(limit))
        while horizon.sealed_until < limit and sealed < HOURS_PER_SEAL:
            _seal_hour(horizon.sealed_until)
            horizon.sealed_until += HOUR
            sealed += 1
        horizon.save()
    return sealed


def seal_limit() -> datetime:
    """The end of the last hour that may be sealed now (PostgreSQL): the current hour's start
    by the database's clock once SEAL_AFTER has passed since it, or earlier while a
    transaction that began before it is open. (SEAL_AFTER: a transaction appears in
    pg_stat_activity a moment after it begins; a minute is far more than that moment.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0] - SEAL_AFTER
    oldest = oldest_open_transaction()
    return hour_floor(now if oldest is None else min(now, oldest))


def oldest_open_transaction() -> datetime | None:
    """When the oldest transaction still open on this database began, other than this
    connection's (pg_stat_activity; the application's connections share one role, so it sees
    all of them: docs/operations.md)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # not the transaction's cached view
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND usename = current_user "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0]


def _first_unsealed_hour(limit: datetime) -> datetime:
    """Where sealing starts without a horizon row: the hour of the first event received."""
    first = Event.objects.order_by("received_at").values_list("received_at", flat=True).first()
    return limit if first is None else min(limit, hour_floor(first - RECEIVED_BEFORE_HOUR))


def _seal_hour(hour: datetime) -> None:
    """Recompute, from raw events, the hour of every customer and event name that received
    events in it around its time (where its on-time events are); the other customers' hours
    are exact already (marked dirty and recomputed, or without events since the rollups were
    built)."""
    touched = (
        Event.objects.filter(
            received_at__gte=hour - RECEIVED_BEFORE_HOUR,
            received_at__lt=hour + HOUR + RECEIVED_AFTER_HOUR,
            timestamp__gte=hour,
            timestamp__lt=hour + HOUR,
        )
        .values_list("external_customer_id", "event_name")
        .distinct()
        .order_by()
    )
    hours_by_name: dict[str, set[tuple[str, datetime]]] = defaultdict(set)
    for customer, name in touched:
        hours_by_name[name].add((customer, hour))
    if hours_by_name:
        for meter in _covered_meters(event_names=set(hours_by_name)):
            _recompute(meter=meter, hours=hours_by_name[meter.event_name])


def rollups_refresh_range(*, external_customer_id: str, start: datetime, end: datetime) -> int:
    """Recompute now, from raw events, every covered meter's hours of one customer touching
    [start, end): for a change to stored events, e.g. an event excluded from billing. Call it
    in the transaction that made the change. Returns the number of hours recomputed."""
    first, hours = hour_floor(start), set()
    while first < end:
        hours.add((external_customer_id, first))
        first += HOUR
    with transaction.atomic():
        return sum(
            _recompute(meter=meter, hours=hours) for meter in _covered_meters(event_names=None)
        )


def rollups_rebuild(*, meter: Meter, at: datetime) -> int:
    """Recompute every rollup of `meter` from raw events (`manage.py rebuild_rollups`) and mark
    it covered under its current definition. Returns the number of rollup rows written."""
    if meter.aggregation not in ROLLED_UP:
        return 0
    RollupCoverage.objects.get_or_create(meter=meter)
    with transaction.atomic():
        coverage = RollupCoverage.objects.select_for_update().get(meter=meter)
        UsageRollup.objects.filter(meter=meter).delete()
        written = _write(meter=meter, scope=Q())
        coverage.definition = meter_definition(meter=meter)
        coverage.built_at = at
        coverage.save(update_fields=["definition", "built_at"])
    return written


def _covered_meters(*, event_names: set[str] | None) -> list[Meter]:
    """The meters with complete rollups (of these event names), their coverage rows locked in
    one order: concurrent refreshes of the same meter wait for each other."""
    meters = Meter.objects.filter(aggregation__in=ROLLED_UP).order_by("pk")
    if event_names is not None:
        meters = meters.filter(event_name__in=event_names)
    by_pk = {meter.pk: meter for meter in meters}
    coverages = RollupCoverage.objects.select_for_update().filter(meter_id__in=list(by_pk))
    covered = []
    for coverage in coverages.order_by("meter_id"):
        meter = by_pk[coverage.meter_id]
        if coverage.definition == meter_definition(meter=meter):
            covered.append(meter)
    return covered


def _recompute(*, meter: Meter, hours: set[tuple[str, datetime]]) -> int:
    """Replace the meter's rollups of these (customer, hour) by fresh ones from raw events."""
    ranges = _hour_ranges(hours)
    for offset in range(0, len(ranges), RANGES_PER_QUERY):
        chunk = ranges[offset : offset + RANGES_PER_QUERY]
        rollup_scope, event_scope = Q(pk__in=[]), Q(pk__in=[])
        for customer, first, last in chunk:
            rollup_scope |= Q(
                external_customer_id=customer, bucket_start__gte=first, bucket_start__lt=last
            )
            event_scope |= Q(
                external_customer_id=customer, timestamp__gte=first, timestamp__lt=last
            )
        UsageRollup.objects.filter(rollup_scope, meter=meter).delete()
        _write(meter=meter, scope=event_scope)
    return len(hours)


def _hour_ranges(hours: set[tuple[str, datetime]]) -> list[tuple[str, datetime, datetime]]:
    """(customer, hour) pairs merged into runs of consecutive hours: [(customer, first, end)]."""
    ranges: list[list] = []
    for customer, hour in sorted(hours):
        if ranges and ranges[-1][0] == customer and ranges[-1][2] == hour:
            ranges[-1][2] = hour + HOUR
        else:
            ranges.append([customer, hour, hour + HOUR])
    return [tuple(item) for item in ranges]


def _write(*, meter: Meter, scope: Q) -> int:
    """Insert the meter's rollups of the events in `scope` (whose rows must be gone), in one
    INSERT … SELECT: the figures never travel through Python."""
    grouped, ranked = rollup_queries(meter=meter, events=Event.objects.filter(scope))
    quote = connection.ops.quote_name
    table = quote(UsageRollup._meta.db_table)
    figures = ["event_count"]
    if meter.aggregation in NUMERIC:
        figures += ["quantity_sum", "quantity_min", "quantity_max"]
    columns = ["meter_id", "external_customer_id", "bucket_start", "group_value", *figures]
    selected = ["g.external_customer_id", "g.rollup_hour", "g.rollup_group"]
    selected += [f"g.{name}" for name in figures]
    grouped_sql, params = grouped.query.sql_with_params()
    source = f"({grouped_sql}) g"
    if ranked is not None:
        ranked_sql, ranked_params = ranked.query.sql_with_params()
        same_group = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
        source += (
            f" JOIN ({ranked_sql}) l ON l.external_customer_id = g.external_customer_id"
            f" AND l.rollup_hour = g.rollup_hour AND l.rollup_group {same_group} g.rollup_group"
        )
        params = (*params, *ranked_params)
        columns += ["latest_timestamp", "latest_event_pk", "latest_value"]
        selected += ["l.timestamp", "l.id", "l.rollup_value"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) "
            f"SELECT %s, {', '.join(selected)} FROM {source}",
            (meter.pk, *params),
        )
        return cursor.rowcount


def rollup_queries(*, meter: Meter, events: QuerySet[Event]) -> tuple[QuerySet, QuerySet | None]:
    """The rollup figures of `events` for `meter` per (customer, hour, group), and for
    `latest` the last counted event of each (None for other aggregations)."""
    from metering.selectors.usage import meter_events  # selectors import this module

    counted = meter_events(meter=meter, events=events).annotate(
        rollup_hour=Trunc("timestamp", "hour", tzinfo=UTC),
        rollup_group=PropertyText(meter.group_by)
        if meter.group_by
        else Value(None, output_field=TextField()),
    )
    keys = ("external_customer_id", "rollup_hour", "rollup_group")
    figures = {"event_count": Count("id")}
    if meter.aggregation in NUMERIC:
        value = PropertyNumber(meter.field)
        figures.update(
            quantity_sum=ExactSum(value), quantity_min=ExactMin(value), quantity_max=ExactMax(value)
        )
    grouped = counted.values(*keys).annotate(**figures).order_by()
    if meter.aggregation != Aggregation.LATEST:
        return grouped, None
    ranked = (
        counted.annotate(
            rollup_value=PropertyNumber(meter.field),
            rollup_rank=Window(
                RowNumber(),
                partition_by=[F(name) for name in keys],
                order_by=[F("timestamp").desc(), F("id").desc()],
            ),
        )
        .filter(rollup_rank=1)
        .values(*keys, "timestamp", "id", "rollup_value")
        .order_by()
    )
    return grouped, ranked


def rollup_rows(*, meter: Meter, events: QuerySet[Event]) -> list[dict]:
    """The rollup figures of `events` for `meter` as dicts (for the check), one per
    (customer, hour, group)."""
    grouped, ranked = rollup_queries(meter=meter, events=events)
    keys = ("external_customer_id", "rollup_hour", "rollup_group")
    rows = {}
    for row in grouped:
        rows[tuple(row[name] for name in keys)] = {
            "external_customer_id": row["external_customer_id"],
            "bucket_start": row["rollup_hour"],
            "group_value": row["rollup_group"],
            "event_count": row["event_count"],
            "quantity_sum": row.get("quantity_sum"),
            "quantity_min": row.get("quantity_min"),
            "quantity_max": row.get("quantity_max"),
        }
    for row in ranked if ranked is not None else []:
        rows[tuple(row[name] for name in keys)]["latest_event_pk"] = row["id"]
    return list(rows.values())


# --- check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupMismatch:
    meter: str
    external_customer_id: str
    bucket_start: datetime
    group: str | None
    stored: dict | None
    raw: dict | None


def rollups_check(
    *, meters: Iterable[Meter] | None = None, external_customer_id: str = ""
) -> list[RollupMismatch]:
    """Compare every covered meter's clean rollups with the raw events of the same hours
    (`manage.py rebuild_rollups --check`): an empty list means they agree exactly."""
    compared = ("event_count", "quantity_sum", "quantity_min", "quantity_max", "latest_event_pk")
    meters = list(Meter.objects.order_by("code") if meters is None else meters)
    mismatches = []
    for meter in meters:
        if not meter_rolled_up(meter=meter):
            continue
        events = Event.objects.all()
        stored_rows = UsageRollup.objects.filter(meter=meter)
        dirty = RollupDirtyBucket.objects.filter(event_name=meter.event_name)
        if external_customer_id:
            events = events.filter(external_customer_id=external_customer_id)
            stored_rows = stored_rows.filter(external_customer_id=external_customer_id)
            dirty = dirty.filter(external_customer_id=external_customer_id)
        dirty_hours = set(dirty.values_list("external_customer_id", "bucket_start"))
        horizon = rollups_horizon()
        raw = {
            (row["external_customer_id"], row["bucket_start"], row["group_value"]): row
            for row in rollup_rows(meter=meter, events=events)
        }
        stored = {
            (row["external_customer_id"], row["bucket_start"], row["group_value"]): row
            for row in stored_rows.values(
                "external_customer_id", "bucket_start", "group_value", *compared
            )
        }
        for key in sorted(
            set(raw) | set(stored), key=lambda item: (item[0], item[1], str(item[2]))
        ):
            if (key[0], key[1]) in dirty_hours or horizon is None or key[1] >= horizon:
                continue  # read from raw events, whatever its rollup says
            mine = {name: stored[key][name] for name in compared} if key in stored else None
            truth = {name: raw[key].get(name) for name in compared} if key in raw else None
            if mine != truth:
                mismatches.append(RollupMismatch(meter.code, key[0], key[1], key[2], mine, truth))
    return mismatches
