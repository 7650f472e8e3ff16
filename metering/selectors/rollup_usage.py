"""Usage read from rollups: whole clean hours from `UsageRollup`, the rest from raw events.

The window [start, end) splits into the partial hours at its edges, the whole hours not
sealed yet (from the rollups' horizon on), the whole hours marked dirty (events landed since
their rollup was computed) and the whole clean hours. The first three are aggregated from raw
events with the meter's condition, the last from rollups; the partial figures (count, sum,
min, max, latest) then add up exactly (docs/scaling.md).
"""

import decimal
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from django.db.models import (
    Count,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import RowNumber

from billing.compiled import Aggregated, compiled_aggregate, compiled_rows
from catalog.models import Aggregation, Meter
from metering.expressions import ExactMax, ExactMin, ExactSum, PropertyNumber, PropertyText
from metering.models import (
    Event,
    RollupCoverage,
    RollupDirtyBucket,
    RollupHorizon,
    UsageRollup,
)
from metering.rollups import (
    HOUR,
    NUMERIC,
    ROLLED_UP,
    hour_ceil,
    hour_floor,
    meter_definition,
    meter_rolled_up,
    rollups_horizon,
)
from rating.money import DIVISION

# Exact addition: a sum of sums must not round where the raw sum would not.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
# Beyond this many runs of dirty hours in one read, the customers with the most runs are read
# raw over the whole window (a query ORing hundreds of ranges costs more than that).
MAX_DIRTY_RANGES = 100
# Which of a numeric meter's figures over raw events its quantity needs: each aggregate parses
# every event's property again, so a sum meter reads one, not three (docs/performance.md).
_RAW_FIGURES = {
    Aggregation.SUM: ("total",),
    Aggregation.AVG: ("total",),
    Aggregation.MIN: ("minimum",),
    Aggregation.MAX: ("maximum",),
}


def _raw_figures(meter: Meter, value, *, names: dict, **extra) -> dict:
    """{names[figure]: aggregate of `value`} for the figures `meter` needs (_RAW_FIGURES)."""
    aggregates = {"total": ExactSum, "minimum": ExactMin, "maximum": ExactMax}
    return {
        names[figure]: aggregates[figure](value, **extra)
        for figure in _RAW_FIGURES.get(meter.aggregation, ())
    }


@dataclass
class Partial:
    """Figures of a set of counted events that add up: over hours, edges, dirty hours."""

    count: int = 0
    total: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    latest: tuple | None = None  # (timestamp, event pk, value)
    distinct: int | None = None  # unique_count, read from raw events only (no rollups)

    def add(self, *, count, total, minimum, maximum, latest) -> None:
        self.count += count
        if total is not None:
            self.total = total if self.total is None else _EXACT.add(self.total, total)
        if minimum is not None and (self.minimum is None or minimum < self.minimum):
            self.minimum = minimum
        if maximum is not None and (self.maximum is None or maximum > self.maximum):
            self.maximum = maximum
        if latest is not None and (self.latest is None or latest[:2] > self.latest[:2]):
            self.latest = latest

    def quantity(self, aggregation: str) -> Decimal:
        if aggregation == Aggregation.COUNT:
            return Decimal(self.count)
        if aggregation == Aggregation.SUM:
            return self.total
        if aggregation == Aggregation.AVG:
            with localcontext(DIVISION):
                return self.total / self.count
        if aggregation == Aggregation.MIN:
            return self.minimum
        if aggregation == Aggregation.MAX:
            return self.maximum
        if aggregation == Aggregation.UNIQUE_COUNT:
            return Decimal(self.distinct)
        return self.latest[2]


def rollup_partials(
    *,
    meter: Meter,
    external_customer_ids: list[str],
    start: datetime,
    end: datetime,
    rollup_key,
    event_key,
    events_in_scope,
) -> dict | None:
    """{key: Partial} over [start, end), or None when rollups cannot answer (the caller then
    reads raw events): an aggregation without rollups, a meter not covered under its current
    definition, or a window without a whole hour.

    `rollup_key` / `event_key`: the grouping expression over rollups / events (None: one
    group, None). `events_in_scope(events)`: the meter's counted events among `events`.
    """
    first, last = hour_ceil(start), hour_floor(end)
    if first >= last or not meter_rolled_up(meter=meter):
        return None
    last = min(last, rollups_horizon() or first)  # hours not sealed yet: raw (the right edge)
    if first >= last:
        return None
    dirty, raw_customers = _dirty_ranges(meter, external_customer_ids, first, last)

    partials: dict = {}
    rollups = UsageRollup.objects.filter(
        meter=meter,
        external_customer_id__in=external_customer_ids,
        bucket_start__gte=first,
        bucket_start__lt=last,
    ).exclude(external_customer_id__in=raw_customers)
    for customer, range_start, range_end in dirty:
        rollups = rollups.exclude(
            external_customer_id=customer,
            bucket_start__gte=range_start,
            bucket_start__lt=range_end,
        )
    _add_rollups(partials, rollups, meter=meter, key=rollup_key)

    raw_scope = Q(timestamp__gte=start, timestamp__lt=first) | Q(
        timestamp__gte=last, timestamp__lt=end
    )
    if raw_customers:
        raw_scope |= Q(
            external_customer_id__in=raw_customers, timestamp__gte=first, timestamp__lt=last
        )
    for customer, range_start, range_end in dirty:
        raw_scope |= Q(
            external_customer_id=customer, timestamp__gte=range_start, timestamp__lt=range_end
        )
    events = Event.objects.filter(raw_scope, external_customer_id__in=external_customer_ids)
    _add_events(partials, events_in_scope(events), meter=meter, key=event_key)
    return partials


def _dirty_ranges(
    meter, customers, first, last
) -> tuple[list[tuple[str, datetime, datetime]], list[str]]:
    """Runs of dirty hours in [first, last) of these customers, [(customer, start, end)], at
    most MAX_DIRTY_RANGES of them; the customers with the most runs beyond that are read
    wholly from raw events instead (the second list)."""
    hours = sorted(
        set(
            RollupDirtyBucket.objects.filter(
                external_customer_id__in=customers,
                event_name=meter.event_name,
                bucket_start__gte=first,
                bucket_start__lt=last,
            ).values_list("external_customer_id", "bucket_start")
        )
    )
    by_customer: dict[str, list[datetime]] = {}
    for customer, hour in hours:
        by_customer.setdefault(customer, []).append(hour)
    runs = {customer: _runs(mine) for customer, mine in by_customer.items()}
    raw_customers: list[str] = []
    total = sum(len(mine) for mine in runs.values())
    for customer in sorted(runs, key=lambda name: (-len(runs[name]), name)):
        if total <= MAX_DIRTY_RANGES:
            break
        total -= len(runs.pop(customer))
        raw_customers.append(customer)
    ranges = [(customer, *run) for customer, mine in sorted(runs.items()) for run in mine]
    return ranges, raw_customers


def _add_rollups(partials: dict, rollups: QuerySet, *, meter: Meter, key) -> None:
    figures = {"usage_events": Sum("event_count")}
    if meter.aggregation in NUMERIC:
        figures.update(
            usage_total=ExactSum(F("quantity_sum")),
            usage_min=ExactMin(F("quantity_min")),
            usage_max=ExactMax(F("quantity_max")),
        )
    latest = {}
    if meter.aggregation == Aggregation.LATEST:
        latest = _latest(
            rollups,
            key=key,
            timestamp="latest_timestamp",
            pk="latest_event_pk",
            value=F("latest_value"),
        )
    _add_rows(partials, rollups, figures, key=key, latest=latest)


def _add_events(partials: dict, events: QuerySet, *, meter: Meter, key) -> None:
    figures = {"usage_events": Count("id")}
    if meter.aggregation in NUMERIC:
        figures.update(_raw_figures(meter, PropertyNumber(meter.field), names=_USAGE_NAMES))
    latest = {}
    if meter.aggregation == Aggregation.LATEST:
        latest = _latest(
            events, key=key, timestamp="timestamp", pk="id", value=PropertyNumber(meter.field)
        )
    _add_rows(partials, events, figures, key=key, latest=latest)


_USAGE_NAMES = {"total": "usage_total", "minimum": "usage_min", "maximum": "usage_max"}


def _add_rows(partials: dict, rows: QuerySet, figures: dict, *, key, latest: dict) -> None:
    if key is None:
        totals = rows.aggregate(**figures)
        found = [(None, totals)] if totals["usage_events"] else []
    else:
        grouped = rows.annotate(usage_key=key).values("usage_key").annotate(**figures).order_by()
        found = [(row["usage_key"], row) for row in grouped]
    for group, row in found:
        partials.setdefault(group, Partial()).add(
            count=int(row["usage_events"]),
            total=row.get("usage_total"),
            minimum=row.get("usage_min"),
            maximum=row.get("usage_max"),
            latest=latest.get(group),
        )


def _latest(rows: QuerySet, *, key, timestamp: str, pk: str, value) -> dict:
    """{group: (timestamp, pk, value)} of each group's last row by (timestamp, pk)."""
    if key is None:
        last = rows.annotate(usage_value=value).order_by(f"-{timestamp}", f"-{pk}")
        found = last.values_list(timestamp, pk, "usage_value").first()
        return {} if found is None else {None: tuple(found)}
    ranked = rows.annotate(
        usage_key=key,
        usage_value=value,
        usage_rank=Window(
            RowNumber(),
            partition_by=[F("usage_key")],
            order_by=[F(timestamp).desc(), F(pk).desc()],
        ),
    ).filter(usage_rank=1)
    return {
        group: (moment, row_pk, number)
        for group, moment, row_pk, number in ranked.values_list(
            "usage_key", timestamp, pk, "usage_value"
        )
    }


# --- several windows of one customer in one round ----------------------------------------------

WindowKey = tuple[int, datetime, datetime]  # (meter pk, start, end)


def windows_partials(
    *, external_customer_id: str, windows: list[tuple[Meter, datetime, datetime]], condition
) -> dict[WindowKey, Partial]:
    """{(meter pk, start, end): Partial} of several meters' windows of one customer, in at most
    three queries whatever their number: the meters' rollup coverage and the customer's dirty
    hours (one UNION), the clean whole hours from rollups (one query grouped by meter) and
    everything else from raw events (one query, an aggregate FILTERed per window). Each window
    is split exactly as `rollup_partials` splits it; a meter without rollups (unique_count,
    not covered under its current definition), a window without a whole hour or with more
    than MAX_DIRTY_RANGES runs of dirty hours is read wholly from raw events.

    The caller passes each meter at most once, no `latest` meter and no meter whose filters
    allow nothing; `condition(meter=…)` is the meter's condition on an event (meter_condition
    itself: the raw read's compiled statement is keyed by it, so pass a module-level function,
    not a new lambda per call).
    A window without counted events has no entry.
    """
    plans = []  # (key, meter, whole hours [first, last) or None, raw ranges)
    rolled = {}
    for meter, start, end in windows:
        first, last = hour_ceil(start), hour_floor(end)
        hours = (first, last) if first < last and meter.aggregation in ROLLED_UP else None
        plans.append(((meter.pk, start, end), meter, start, end, hours))
        if hours is not None:
            rolled[meter.pk] = meter
    covered, dirty, horizon = _coverage_and_dirty(external_customer_id, plans, rolled)

    rollup_parts, raw_scopes = [], []
    for key, meter, start, end, hours in plans:
        if hours is not None and horizon is not None and hours[0] < horizon:
            hours = (hours[0], min(hours[1], horizon))  # hours not sealed yet: raw
        else:
            hours = None
        if hours is not None and meter.pk in covered:
            marked = dirty.get(meter.event_name, ())
            runs = _runs(sorted(hour for hour in marked if hours[0] <= hour < hours[1]))
            if len(runs) <= MAX_DIRTY_RANGES:
                first, last = hours
                rollup_parts.append((meter.pk, first, last, runs))
                raw_scopes.append((key, meter, [(start, first), (last, end), *runs]))
                continue
        raw_scopes.append((key, meter, [(start, end)]))

    partials: dict[WindowKey, Partial] = {}
    if rollup_parts:
        by_meter = {key[0]: key for key, *_ in plans}
        for meter_id, *figures in _rollup_rows(external_customer_id, rollup_parts):
            events, total, minimum, maximum = figures
            if events:
                partials.setdefault(by_meter[meter_id], Partial()).add(
                    count=int(events), total=total, minimum=minimum, maximum=maximum, latest=None
                )
    _add_raw_windows(partials, external_customer_id, raw_scopes, condition)
    return partials


# The three statements of `windows_partials` are compiled once per shape (billing.compiled):
# their keys hold the meters (ids and definitions) and how many time ranges each reads, their
# values the customer and the moments (docs/performance.md, "The upcoming invoice's Python").


def _rollup_rows(customer: str, parts: list) -> list[tuple]:
    """(meter id, events, total, min, max) of each meter's whole clean hours: `parts` holds
    (meter id, first hour, end hour, [dirty runs to leave out])."""
    shape = tuple((meter_id, len(runs)) for meter_id, _, _, runs in parts)
    values = [customer]
    for _, first, last, runs in parts:
        values += [first, last, *(moment for run in runs for moment in run)]

    def build(values):
        moments = iter(values[1:])
        conditions = []
        for meter_id, dirty_runs in shape:
            first, last = next(moments), next(moments)
            part = Q(meter_id=meter_id, bucket_start__gte=first, bucket_start__lt=last)
            for _ in range(dirty_runs):
                part &= ~Q(bucket_start__gte=next(moments), bucket_start__lt=next(moments))
            conditions.append(part)
        return (
            UsageRollup.objects.filter(_any(conditions), external_customer_id=values[0])
            .values_list("meter_id")
            .annotate(
                usage_events=Sum("event_count"),
                usage_total=ExactSum(F("quantity_sum")),
                usage_min=ExactMin(F("quantity_min")),
                usage_max=ExactMax(F("quantity_max")),
            )
            .order_by()
        )

    return compiled_rows(key=("usage rollups", shape), build=build, values=values)


def _coverage_and_dirty(
    customer: str, plans: list, rolled: dict
) -> tuple[set[int], dict, datetime | None]:
    """The meters of `rolled` covered under their current definition, the customer's dirty
    hours of their event names over the windows' whole hours ({event name: [hour]}), and the
    rollups' horizon (rollups_horizon): one query."""
    if not rolled:
        return set(), {}, None
    firsts = [hours[0] for *_, hours in plans if hours is not None]
    lasts = [hours[1] for *_, hours in plans if hours is not None]
    meter_ids = sorted(rolled)
    names = sorted({meter.event_name for meter in rolled.values()})

    def build(values):
        customer, first, last = values
        coverage = RollupCoverage.objects.filter(meter_id__in=meter_ids).values_list(
            "meter_id", "definition", Value(None, output_field=DateTimeField())
        )
        marks = RollupDirtyBucket.objects.filter(
            external_customer_id=customer,
            event_name__in=names,
            bucket_start__gte=first,
            bucket_start__lt=last,
        ).values_list(Value(None, output_field=IntegerField()), "event_name", "bucket_start")
        # Tagged meter 0 (no meter has that key): the horizon's row.
        sealed = RollupHorizon.objects.values_list(
            Value(0, output_field=IntegerField()), Value(""), "sealed_until"
        )
        return coverage.union(marks, sealed, all=True)

    rows = compiled_rows(
        key=("usage coverage", tuple(meter_ids), tuple(names)),
        build=build,
        values=[customer, min(firsts), max(lasts)],
    )
    covered, dirty, horizon = set(), {}, None
    for meter_id, text, hour in rows:
        if meter_id is None:
            dirty.setdefault(text, set()).add(hour)
        elif meter_id == 0:
            horizon = hour
        elif meter_id in rolled and text == meter_definition(meter=rolled[meter_id]):
            covered.add(meter_id)
    return covered, dirty, horizon


def _runs(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted distinct hours merged into runs of consecutive hours: [(start, end)]."""
    runs: list[list] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1][1] = hour + HOUR
        else:
            runs.append([hour, hour + HOUR])
    return [(start, end) for start, end in runs]


def _add_raw_windows(partials: dict, customer: str, scopes: list, condition) -> None:
    """Add each window's raw events (its time ranges, its meter's condition) in one query: one
    set of aggregates per window, each FILTERed by its own condition."""
    windows, values = [], [customer]
    for key, meter, ranges in scopes:
        ranges = [
            (range_start, range_end) for range_start, range_end in ranges if range_start < range_end
        ]
        if ranges:
            windows.append((key, meter, len(ranges)))
            values += [moment for span in ranges for moment in span]
    if not windows:
        return
    # The statement's text depends on each meter's definition (its condition) and on how many
    # ranges each window reads; the customer and the moments are its values.
    shape = tuple((meter.pk, meter_definition(meter=meter), count) for _, meter, count in windows)

    def build(values):
        moments = iter(values[1:])
        figures, wanted = {}, []
        for number, (_, meter, count) in enumerate(windows):
            ranges = [(next(moments), next(moments)) for _ in range(count)]
            counted = _any(
                [
                    Q(timestamp__gte=range_start, timestamp__lt=range_end)
                    for range_start, range_end in ranges
                ]
            ) & condition(meter=meter)
            # The WHERE: a flat OR of (event name, time range) pairs, so that PostgreSQL reads
            # each one through the (customer, event name, timestamp) index (a BitmapOr); nested
            # under each meter's whole condition it scanned all of the customer's events.
            wanted += [
                Q(event_name=meter.event_name, timestamp__gte=range_start, timestamp__lt=range_end)
                for range_start, range_end in ranges
            ]
            figures[f"n{number}"] = Count("id", filter=counted)
            if meter.aggregation in NUMERIC:
                names = {"total": f"s{number}", "minimum": f"lo{number}", "maximum": f"hi{number}"}
                figures.update(
                    _raw_figures(meter, PropertyNumber(meter.field), names=names, filter=counted)
                )
            elif meter.aggregation == Aggregation.UNIQUE_COUNT:
                figures[f"u{number}"] = Count(
                    PropertyText(meter.field), distinct=True, filter=counted
                )
        events = Event.objects.filter(_any(wanted), external_customer_id=values[0])
        return Aggregated(events, figures)

    row = compiled_aggregate(
        key=("usage raw windows", condition, shape), build=build, values=values
    )
    for number, (key, meter, _) in enumerate(windows):
        count = row.get(f"n{number}")
        if not count:
            continue
        partial = partials.setdefault(key, Partial())
        partial.add(
            count=int(count),
            total=row.get(f"s{number}"),
            minimum=row.get(f"lo{number}"),
            maximum=row.get(f"hi{number}"),
            latest=None,
        )
        if meter.aggregation == Aggregation.UNIQUE_COUNT:
            partial.distinct = int(row[f"u{number}"])


def _any(conditions: list[Q]) -> Q:
    """The OR of a non-empty list of conditions."""
    found = conditions[0]
    for condition in conditions[1:]:
        found |= condition
    return found
