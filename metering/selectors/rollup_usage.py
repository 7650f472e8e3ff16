"""Usage read from rollups: whole clean hours from `UsageRollup`, the rest from raw events.

The window [start, end) splits into the partial hours at its edges, the whole hours marked
dirty (events landed since their rollup was computed) and the whole clean hours. The first
two are aggregated from raw events with the meter's condition, the last from rollups; the
partial figures (count, sum, min, max, latest) then add up exactly (docs/scaling.md).
"""

import decimal
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from catalog.models import Aggregation, Meter
from metering.expressions import ExactMax, ExactMin, ExactSum, PropertyNumber
from metering.models import Event, RollupDirtyBucket, UsageRollup
from metering.rollups import HOUR, NUMERIC, hour_ceil, hour_floor, meter_rolled_up
from rating.money import DIVISION

# Exact addition: a sum of sums must not round where the raw sum would not.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
# Beyond this many runs of dirty hours in one read, the customers with the most runs are read
# raw over the whole window (a query ORing hundreds of ranges costs more than that).
MAX_DIRTY_RANGES = 100


@dataclass
class Partial:
    """Figures of a set of counted events that add up: over hours, edges, dirty hours."""

    count: int = 0
    total: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    latest: tuple | None = None  # (timestamp, event pk, value)

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
    runs: dict[str, list[list]] = {}
    for customer, hour in hours:
        mine = runs.setdefault(customer, [])
        if mine and mine[-1][1] == hour:
            mine[-1][1] = hour + HOUR
        else:
            mine.append([hour, hour + HOUR])
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
        value = PropertyNumber(meter.field)
        figures.update(
            usage_total=ExactSum(value), usage_min=ExactMin(value), usage_max=ExactMax(value)
        )
    latest = {}
    if meter.aggregation == Aggregation.LATEST:
        latest = _latest(
            events, key=key, timestamp="timestamp", pk="id", value=PropertyNumber(meter.field)
        )
    _add_rows(partials, events, figures, key=key, latest=latest)


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
