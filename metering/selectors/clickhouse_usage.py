"""Usage read from ClickHouse (EVENTS_BACKEND=clickhouse; docs/scaling.md, "ClickHouse").

One query over the events table with `FINAL` (one row per (customer, event id), the excluded
version winning) gives each group's figures; the events still in the outbox (stored in the
database, not yet in ClickHouse) are excluded from it by pk and aggregated from the database
instead, and the two add up exactly (`Partial`). So a read is exact at every moment: an event
counts from the commit that stored it, and never twice.
"""

from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import F, TextField, Value
from django.db.models.functions import Trunc

from billing.compiled import compiled_rows
from catalog.models import Aggregation, Meter
from metering.clickhouse import (
    CHUNK,
    HOUR_MICROS,
    READ_SETTINGS,
    ROLLUP_COLUMNS,
    SCALE,
    client,
    database_name,
    day_of,
    events_table,
    from_micros,
    micros,
    rollups_table,
)
from metering.clickhouse_rollups import (
    built_definition,
    hour_runs,
    rollup_row_columns,
    rollup_rows_sql,
)
from metering.expressions import PropertyText
from metering.models import ClickHouseOutbox, ClickHouseRollupCoverage, Event
from metering.properties import filter_value_text, property_path
from metering.rollups import NUMERIC, ROLLED_UP, meter_definition
from metering.selectors.rollup_usage import _EXACT, Partial, _add_events

# Beyond this many outbox events for the customers read (the sync is behind), the read goes
# to the database alone: a NOT IN list that long costs more than it saves.
MAX_PENDING = 20_000
# Beyond this many runs of hours with outbox events in one read, the window is read raw.
MAX_OUTBOX_RUNS = 100
BUCKET_MICROS = {"hour": HOUR_MICROS, "day": 24 * HOUR_MICROS}


def clickhouse_usage(
    *, meter: Meter, external_customer_ids: list[str], start: datetime, end: datetime, key
) -> dict | None:
    """{group: (count, quantity)} of the meter over [start, end), or None when the outbox is
    too far behind (the caller then reads the database).

    `key`: None (one group, None), "customer", ("property", path) (None: events without it)
    or ("bucket", "hour" | "day") (the bucket's start).
    """
    customers = list(external_customer_ids)
    one_total = key is None and len(customers) == 1 and meter.pk is not None
    if one_total and meter.aggregation != Aggregation.UNIQUE_COUNT:
        # One customer's total is the one-window case of `clickhouse_windows`: its query has
        # fewer levels than the grouped read's below (docs/performance.md, "The upcoming
        # invoice on ClickHouse").
        found = clickhouse_windows(external_customer_id=customers[0], windows=[(meter, start, end)])
        if found is None:
            return None
        part = found.get((meter.pk, start, end))
        return {} if part is None else {None: (part.count, part.quantity(meter.aggregation))}
    pending = _pending(customers)
    if pending is None:
        return None
    if meter.aggregation == Aggregation.UNIQUE_COUNT:
        query = _Query(meter, customers, start, end, key, pending)
        return _unique_counts(query, meter, pending, start, end, key, customers)
    partials: dict = {}
    spans = None
    definition = built_definition(meter=meter) if _rolled_key(meter, key) else None
    if definition is not None:
        touched = _outbox_hours(pending, meter.event_name)
        split = _split(start, end, touched)
        if split is not None:
            params = {"customers": tuple(customers), "pending": tuple(pending) or (0,)}
            source = _rollup_source(meter, definition, start, end, split, 0, params)
            group_columns, group_sql = _rollup_grouping(key)
            sql = (
                f"SELECT {', '.join([*group_columns, *_rollup_figures(meter.aggregation)])} "
                f"FROM ({source})"
            )
            if group_sql:
                sql += f" GROUP BY {group_sql}"
            width = len(group_columns)
            rows = client().execute(sql, params, settings=READ_SETTINGS)
            found = [(_group_of(key, row[:width]), *row[width:]) for row in rows]
            _add_rows(partials, meter.aggregation, found)
            spans = []  # all read
    if spans != []:
        _Query(meter, customers, start, end, key, pending, spans).add_to(partials)
    if pending:
        _add_events(
            partials,
            _pending_events(meter, customers, start, end, pending),
            meter=meter,
            key=_event_key(key),
        )
    aggregation = meter.aggregation
    return {group: (part.count, part.quantity(aggregation)) for group, part in partials.items()}


def clickhouse_windows(
    *, external_customer_id: str, windows: list[tuple[Meter, datetime, datetime]]
) -> dict | None:
    """{(meter pk, start, end): Partial} of several meters' windows of one customer (each meter
    once, no unique_count), or None when the outbox is too far behind: the outbox and the
    meters' rollup coverage in two database queries, then one ClickHouse query for every
    window of a built meter (every meter's whole hours in one read of the rollups, each
    meter's edges and outbox hours from raw events, `_raw_figures`, added up here) and one
    raw query per window of a meter not built. A window without counted events has no
    entry."""
    customers = [external_customer_id]
    pending = _pending(customers)
    if pending is None:
        return None
    meters = {meter.pk: meter for meter, _, _ in windows}
    meter_ids = sorted(meters)
    coverage = compiled_rows(  # compiled once per set of meters (billing.compiled)
        key=("clickhouse coverage", tuple(meter_ids)),
        build=lambda values: ClickHouseRollupCoverage.objects.filter(
            meter_id__in=meter_ids, built_at__isnull=False
        ).values_list("meter_id", "definition"),
        values=[],
    )
    built = {
        meter_id: definition
        for meter_id, definition in coverage
        if definition == meter_definition(meter=meters[meter_id])
        and meters[meter_id].aggregation in ROLLED_UP
    }
    touched_by_name = _outbox_hours(pending, None)
    parts, sources, raw, aggregations = [], [], [], set()
    params = {"customers": (external_customer_id,), "pending": tuple(pending) or (0,)}
    for index, (meter, start, end) in enumerate(windows):
        key = (meter.pk, start, end)
        split = None
        if meter.pk in built:
            touched = {
                (customer, hour)
                for name, customer, hour in touched_by_name
                if name == meter.event_name
            }
            split = _split(start, end, touched)
        if split is None:
            raw.append((key, meter, start, end, None))
            continue
        first, last, excluded, spans = split
        part, part_params = _rollup_part(meter, built[meter.pk], first, last, excluded, index)
        params.update(part_params)
        parts.append(part)
        aggregations.add(meter.aggregation)
        if spans:
            sources.append(_raw_figures(meter, start, end, spans, index, params))
        raw.append((key, meter, start, end, []))
    found: dict = {}
    if parts:
        # Every meter's whole hours in one read of the rollup table (an aggregate over FINAL
        # sums the merged rows), each meter's edges and outbox hours summed apart, and the
        # parts added here (`Partial.add`): a top-level UNION ALL with no query around it.
        # On ClickHouse 18 each read of a table and each level of subquery has a fixed cost
        # larger than the read itself (docs/performance.md, "The upcoming invoice on
        # ClickHouse"). PREWHERE: see `_raw_figures`; here every condition is on the sorting
        # key.
        sources.insert(
            0,
            f"SELECT meter_id, {', '.join(_figures_read(_ALL_ROLLUP_FIGURES, aggregations))} "
            f"FROM {database_name()}.{rollups_table()} FINAL "
            f"PREWHERE customer IN %(customers)s AND (({') OR ('.join(parts)})) "
            "GROUP BY meter_id",
        )
        by_meter = {meter.pk: (meter, start, end) for meter, start, end in windows}
        sql = " UNION ALL ".join(sources)
        for meter_id, *figures in client().execute(sql, params, settings=READ_SETTINGS):
            meter, start, end = by_meter[meter_id]
            row = (None, *_pick_figures(meter.aggregation, figures))
            _add_rows(found.setdefault((meter.pk, start, end), {}), meter.aggregation, [row])
    for key, meter, start, end, spans in raw:
        partials = found.setdefault(key, {})
        if spans != []:
            _Query(meter, customers, start, end, None, pending, spans).add_to(partials)
        if pending:
            events = _pending_events(meter, customers, start, end, pending)
            _add_events(partials, events, meter=meter, key=None)
    return {key: partials[None] for key, partials in found.items() if None in partials}


def _pending(customers: list[str]) -> list[int] | None:
    """The pks of these customers' events still in the outbox; None beyond MAX_PENDING."""
    rows = compiled_rows(  # compiled once per number of customers (billing.compiled)
        key=("clickhouse outbox", len(customers), MAX_PENDING),
        build=lambda values: ClickHouseOutbox.objects.filter(
            external_customer_id__in=values
        ).values_list("event_pk")[: MAX_PENDING + 1],
        values=list(customers),
    )
    return None if len(rows) > MAX_PENDING else [pk for (pk,) in rows]


def _outbox_hours(pending: list[int], event_name: str | None):
    """The (customer, hour)s of the outbox's events of `event_name`, or with None every name's
    (name, customer, hour)s: hours whose rollups may not hold them yet."""
    if not pending:
        return set()
    events = Event.objects.filter(pk__in=pending)
    if event_name is not None:
        events = events.filter(event_name=event_name)
    found = set()
    for name, customer, moment in events.values_list(
        "event_name", "external_customer_id", "timestamp"
    ):
        hour = micros(moment) // HOUR_MICROS
        found.add((customer, hour) if event_name is not None else (name, customer, hour))
    return found


def _split(start, end, touched: set[tuple[str, int]]):
    """(first hour, end hour, the (customer, hour)s among them to leave out, the spans to
    read raw) of a window read through rollups, or None when it has no whole hour or too many
    runs of outbox hours (then it is read raw whole)."""
    first = -(-micros(start) // HOUR_MICROS)
    last = micros(end) // HOUR_MICROS
    if first >= last:
        return None
    excluded = {(customer, hour) for customer, hour in touched if first <= hour < last}
    runs = hour_runs(excluded)
    if len(runs) > MAX_OUTBOX_RUNS:
        return None
    spans = [(customer, begin * HOUR_MICROS, stop * HOUR_MICROS) for customer, begin, stop in runs]
    if micros(start) < first * HOUR_MICROS:
        spans.append((None, micros(start), first * HOUR_MICROS))
    if last * HOUR_MICROS < micros(end):
        spans.append((None, last * HOUR_MICROS, micros(end)))
    return first, last, excluded, spans


def _rollup_source(meter, definition, start, end, split, index: int, params: dict) -> str:
    """Rows shaped as the rollup table's, of one meter's window (`_split`'s split of it): its
    whole hours from the rollups (the outbox's hours left out) and, computed alike in the
    same query, its edges and outbox hours from raw events (the outbox's pks left out). The
    values go in `params`, which holds the read's `customers` and `pending`."""
    first, last, excluded, spans = split
    part, part_params = _rollup_part(meter, definition, first, last, excluded, index)
    params.update(part_params)
    names = ", ".join(name for name, _ in ROLLUP_COLUMNS)
    sql = (
        f"SELECT {names} FROM {database_name()}.{rollups_table()} FINAL "
        f"WHERE customer IN %(customers)s AND {part}"
    )
    if spans:
        sql += f" UNION ALL {_raw_rows(meter, definition, start, end, spans, index, params)}"
    return sql


def _raw_figures(meter, start, end, spans, index: int, params: dict) -> str:
    """One row (meter_id, _ALL_ROLLUP_FIGURES) of the meter's counted events in `spans` (edges,
    outbox hours), the outbox's pks left out: the figures its rollup rows would sum to, from
    the same per-event columns (`rollup_row_columns`), without grouping them by hour first."""
    prefix = f"raw{index}_"
    params[f"{prefix}meter_id"], params[f"{prefix}name"] = meter.pk, meter.event_name
    params[f"{prefix}first_day"], params[f"{prefix}last_day"] = day_of(start), day_of(end)
    rows = rollup_row_columns(meter, params, prefix)
    figures = _figures_read(_EVENT_FIGURES, {meter.aggregation})
    scope = (
        f"event_name = %({prefix}name)s AND customer IN %(customers)s "
        f"AND day >= %({prefix}first_day)s AND day <= %({prefix}last_day)s "
        f"AND ({spans_sql(spans, params, prefix)}) AND pk NOT IN %(pending)s"
    )
    # The per-event columns in the FINAL select itself (computed after its merge, as in
    # `rollup_rows_sql`), the figures one level up: two levels where the rollup-shaped rows
    # summed again took three. The scope is a PREWHERE, applied before FINAL's merge: exact,
    # since every copy of an event has the same name, customer, ts and day (its sorting key)
    # and pk (its database id); only `excluded` changes, read after the merge. The merge then
    # sorts the few hundred rows of the spans, not whole granules (docs/performance.md).
    return (
        f"SELECT toUInt64(%({prefix}meter_id)s) AS meter_id, {', '.join(figures)} "
        f"FROM (SELECT {', '.join(rows)} FROM {database_name()}.{events_table()} FINAL "
        f"PREWHERE {scope})"
    )


def _raw_rows(meter, definition, start, end, spans, index: int, params: dict) -> str:
    """Rollup-shaped rows of one meter's spans (edges, outbox hours) from raw events, the
    outbox's pks left out."""
    prefix = f"raw{index}_"
    params[f"{prefix}first_day"], params[f"{prefix}last_day"] = day_of(start), day_of(end)
    scope = (
        f"customer IN %(customers)s AND day >= %({prefix}first_day)s "
        f"AND day <= %({prefix}last_day)s AND ({spans_sql(spans, params, prefix)}) "
        "AND pk NOT IN %(pending)s"
    )
    return rollup_rows_sql(meter, definition, 0, scope, params, prefix)


def _rollup_part(meter, definition, first, last, excluded, index) -> tuple[str, dict]:
    """The condition on the rollup table of one meter's whole hours, and its params."""
    params = {
        f"meter{index}": meter.pk,
        f"definition{index}": definition,
        f"first{index}": first,
        f"last{index}": last,
    }
    part = (
        f"meter_id = %(meter{index})s AND definition = %(definition{index})s "
        f"AND hour >= %(first{index})s AND hour < %(last{index})s"
    )
    if excluded:
        params[f"excluded{index}"] = tuple(sorted(excluded))
        part += f" AND (customer, hour) NOT IN %(excluded{index})s"
    return part, params


def _rolled_key(meter, key) -> bool:
    """Whether rollups are grouped finely enough for `key`: by customer and hour always, by
    property only by the meter's own group_by."""
    if key is None or key == "customer" or key[0] == "bucket":
        return True
    return bool(meter.group_by) and key[1] == meter.group_by


def _rollup_grouping(key) -> tuple[list[str], str]:
    if key is None:
        return [], ""
    if key == "customer":
        return ["customer"], "customer"
    if key[0] == "property":
        return ["group_has", "group_value"], "group_has, group_value"
    if key[1] == "hour":
        return ["hour AS bucket"], "bucket"
    return ["intDiv(hour, 24) AS bucket"], "bucket"


_ALL_ROLLUP_FIGURES = [
    "sum(event_count)",
    "sum(s0)",
    "sum(s1)",
    "sum(s2)",
    "sum(s3)",
    "max(scale)",
    "groupArrayArray(wide)",
    "argMinIf(lo_text, lo_key, fits > 0)",
    "argMaxIf(hi_text, hi_key, fits > 0)",
    "sum(fits)",
    "argMaxIf(latest_text, tuple(latest_ts, latest_pk), event_count > 0)",
    "maxIf(tuple(latest_ts, latest_pk), event_count > 0)",
]
# Which of _ALL_ROLLUP_FIGURES (by position) each aggregation reads (`_pick_figures`), and
# the constant of the same type that stands for a figure no meter of a read needs.
_FIGURES_READ = {
    Aggregation.COUNT: {0},
    Aggregation.SUM: {0, 1, 2, 3, 4, 5, 6},
    Aggregation.AVG: {0, 1, 2, 3, 4, 5, 6},
    Aggregation.MIN: {0, 6, 7, 9},
    Aggregation.MAX: {0, 6, 8, 9},
    Aggregation.LATEST: {0, 10, 11},
}
_UNREAD = [
    "toUInt64(0)",
    *["toUInt64(0)"] * 4,
    "toUInt16(0)",
    "emptyArrayString()",
    "''",
    "''",
    "toUInt64(0)",
    "''",
    "tuple(toInt64(0), toUInt64(0))",
]


# _ALL_ROLLUP_FIGURES from the per-event columns of `rollup_row_columns` instead of rollup rows.
_EVENT_FIGURES = [
    "countIf(row_counted)",
    *[f"sumIf(toUInt64(c{chunk}), row_fits)" for chunk in range(4)],
    "toUInt16(maxIf(row_scale, row_counted))",
    "groupArrayIf(text, row_wide)",
    "argMinIf(text, sort_key, row_fits)",
    "argMaxIf(text, sort_key, row_fits)",
    "countIf(row_fits)",
    "argMaxIf(text, tuple(ts, pk), row_counted)",
    "maxIf(tuple(ts, pk), row_counted)",
]


def _figures_read(figures: list[str], aggregations: set[str]) -> list[str]:
    """`figures` (_ALL_ROLLUP_FIGURES or _EVENT_FIGURES), with a constant for each one none of
    `aggregations` reads: every aggregate costs, a text or an array most, and the per-event
    columns a figure names exist only for the aggregations that read it."""
    read = set().union(*(_FIGURES_READ[aggregation] for aggregation in aggregations))
    return [
        figure if position in read else _UNREAD[position] for position, figure in enumerate(figures)
    ]


def _pick_figures(aggregation: str, row: list) -> list:
    """From a row of _ALL_ROLLUP_FIGURES, the figures `_rollup_figures` gives."""
    count, s0, s1, s2, s3, scale, wide, low, high, fits, latest, moment = row
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        return [count, s0, s1, s2, s3, scale, wide]
    if aggregation == Aggregation.MIN:
        return [count, low, fits, wide]
    if aggregation == Aggregation.MAX:
        return [count, high, fits, wide]
    if aggregation == Aggregation.LATEST:
        return [count, latest, moment]
    return [count]


def _rollup_figures(aggregation: str) -> list[str]:
    """The rollups' figures summed over hours, in the shape `_figures` reads (after count)."""
    figures = ["sum(event_count)"]
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        figures += ["sum(s0)", "sum(s1)", "sum(s2)", "sum(s3)", "max(scale)"]
        figures.append("groupArrayArray(wide)")
    elif aggregation in (Aggregation.MIN, Aggregation.MAX):
        low = aggregation == Aggregation.MIN
        pick, text, key = (
            ("argMinIf", "lo_text", "lo_key") if low else ("argMaxIf", "hi_text", "hi_key")
        )
        figures += [f"{pick}({text}, {key}, fits > 0)", "sum(fits)", "groupArrayArray(wide)"]
    elif aggregation == Aggregation.LATEST:
        order = "tuple(latest_ts, latest_pk)"
        figures += [
            f"argMaxIf(latest_text, {order}, event_count > 0)",
            f"maxIf({order}, event_count > 0)",
        ]
    return figures


def _add_rows(partials: dict, aggregation: str, rows: list[tuple]) -> None:
    """Add [(group, count, figures...)] rows (raw or rollup) to `partials`."""
    for group, count, *found in rows:
        if count:
            partials.setdefault(group, Partial()).add(count=count, **_figures(aggregation, found))


def _pending_events(meter, customers, start, end, pending):
    from metering.selectors.usage import meter_events

    events = Event.objects.filter(
        pk__in=pending,
        external_customer_id__in=customers,
        timestamp__gte=start,
        timestamp__lt=end,
    )
    return meter_events(meter=meter, events=events)


def _event_key(key):
    """The database expression grouping the outbox's events as ClickHouse groups its rows."""
    if key is None:
        return None
    if key == "customer":
        return F("external_customer_id")
    kind, value = key
    if kind == "property":
        return PropertyText(value)
    return Trunc("timestamp", value, tzinfo=UTC)


def counted_condition(meter, params: dict, prefix: str = "") -> str:
    """The SQL condition under which a merged (after `FINAL`) row counts for `meter`: not
    excluded, its filters, its field present; the values go in `params` (their names
    starting with `prefix`)."""
    params[f"{prefix}field"] = ".".join(property_path(meter.field or ""))
    conditions = ["excluded = 0"]
    for index, (prop, allowed) in enumerate(sorted((meter.filters or {}).items())):
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        path = ".".join(property_path(prop))
        params[f"{prefix}filter{index}"] = path
        params[f"{prefix}allowed{index}"] = tuple(filter_value_text(value) for value in values)
        position = f"indexOf(text_paths, %({prefix}filter{index})s)"
        conditions.append(
            f"{position} > 0 AND text_values[{position}] IN %({prefix}allowed{index})s"
            if values
            else "0"
        )
    if meter.aggregation in NUMERIC:
        conditions.append(f"indexOf(num_paths, %({prefix}field)s) > 0")
    elif meter.aggregation == Aggregation.UNIQUE_COUNT:
        conditions.append(f"indexOf(text_paths, %({prefix}field)s) > 0")
    return " AND ".join(conditions)


def needed_columns(meter, *, texts: bool = False) -> list[str]:
    """Only the columns a read of `meter` needs (ClickHouse reads each column apart); `texts`:
    the text paths too (grouping by a property)."""
    columns = ["customer", "ts", "pk", "excluded"]
    if texts or meter.filters or meter.aggregation == Aggregation.UNIQUE_COUNT:
        columns += ["text_paths", "text_values"]
    if meter.aggregation in NUMERIC:
        columns += ["num_paths", "num_text"]  # ClickHouse reads only those a query uses
    if meter.aggregation in NUMERIC - {Aggregation.LATEST}:
        columns += ["num_c0", "num_c1", "num_c2", "num_c3", "num_wide"]
    if meter.aggregation in (Aggregation.SUM, Aggregation.AVG):
        columns.append("num_scale")
    return columns


def spans_sql(spans, params: dict, prefix: str = "") -> str:
    """The SQL of a list of time spans [(customer or None: every one, start, end)] in
    microseconds, as an OR of ranges of `ts`; their values go in `params` (names starting
    with `prefix`)."""
    parts = []
    for index, (customer, first, last) in enumerate(spans):
        params[f"{prefix}span_start{index}"], params[f"{prefix}span_end{index}"] = first, last
        part = f"ts >= %({prefix}span_start{index})s AND ts < %({prefix}span_end{index})s"
        if customer is not None:
            params[f"{prefix}span_customer{index}"] = customer
            part = f"customer = %({prefix}span_customer{index})s AND {part}"
        parts.append(f"({part})")
    return " OR ".join(parts) or "0"


class _Query:
    """The SQL of one read: counted rows of the meter, grouped by the key. `spans`: the time
    ranges read ([(customer or None, start, end)] in microseconds; default the window)."""

    def __init__(self, meter, customers, start, end, key, pending, spans=None):
        self.meter = meter
        self.key = key
        self.params = {
            "customers": tuple(customers),
            "name": meter.event_name,
            "first_day": day_of(start),
            "last_day": day_of(end),
            "pending": tuple(pending) or (0,),
        }
        spans = [(None, micros(start), micros(end))] if spans is None else spans
        table = f"{database_name()}.{events_table()}"
        texts = key not in (None, "customer") and key[0] == "property"
        # Conditions on columns no version changes (all but `excluded`) may filter before
        # FINAL's merge; `excluded` is read after it, so an excluded event's older version
        # never survives.
        inner = (
            f"SELECT {', '.join(needed_columns(meter, texts=texts))} FROM {table} FINAL "
            "WHERE customer IN %(customers)s "
            "AND event_name = %(name)s AND day >= %(first_day)s AND day <= %(last_day)s "
            f"AND ({spans_sql(spans, self.params)}) AND pk NOT IN %(pending)s"
        )
        self.source = f"({inner}) WHERE {counted_condition(meter, self.params)}"
        self.group_columns, self.group_sql = self._grouping()

    def _grouping(self) -> tuple[list[str], str]:
        key = self.key
        if key is None:
            return [], ""
        if key == "customer":
            return ["customer"], "customer"
        kind, value = key
        if kind == "property":
            self.params["group"] = ".".join(property_path(value))
            position = "indexOf(text_paths, %(group)s)"
            return [
                f"{position} > 0 AS group_has",
                f"if({position} > 0, text_values[{position}], '') AS group_value",
            ], "group_has, group_value"
        self.params["step"] = BUCKET_MICROS[value]
        return ["intDiv(ts, %(step)s) AS bucket"], "bucket"

    def group_of(self, values: tuple):
        return _group_of(self.key, values)

    def run(self, figures: list[str], *, also_group_by: str = "") -> list[tuple]:
        """[(group, figures...)] of the groups with counted rows."""
        columns = [*self.group_columns, *figures]
        sql = f"SELECT {', '.join(columns)} FROM {self.source}"
        grouping = ", ".join(part for part in (self.group_sql, also_group_by) if part)
        if grouping:
            sql += f" GROUP BY {grouping}"
        width = len(self.group_columns)
        rows = client().execute(sql, self.params, settings=READ_SETTINGS)
        return [(self.group_of(row[:width]), *row[width:]) for row in rows]

    def add_to(self, partials: dict) -> None:
        """Add to `partials` the figures the meter's aggregation needs, and only those (each
        aggregate over a customer's million rows costs)."""
        aggregation = self.meter.aggregation
        at = "indexOf(num_paths, %(field)s)"
        fits, wide = f"num_wide[{at}] = 0", f"num_wide[{at}] = 1"
        chunks = [f"num_c{chunk}[{at}]" for chunk in range(4)]
        figures = ["count()"]
        if aggregation in (Aggregation.SUM, Aggregation.AVG):
            figures += [f"sumIf({chunk}, {fits})" for chunk in chunks]
            figures += [f"max(num_scale[{at}])", f"countIf({wide})"]
        elif aggregation in (Aggregation.MIN, Aggregation.MAX):
            pick = "argMinIf" if aggregation == Aggregation.MIN else "argMaxIf"
            figures += [
                f"{pick}(num_text[{at}], tuple({', '.join(chunks)}), {fits})",
                f"countIf({fits})",
                f"groupArrayIf(num_text[{at}], {wide})",
            ]
        elif aggregation == Aggregation.LATEST:
            figures += [f"argMax(num_text[{at}], tuple(ts, pk))", "max(tuple(ts, pk))"]
        rows = self.run(figures)
        if aggregation in (Aggregation.SUM, Aggregation.AVG) and any(row[-1] for row in rows):
            # Values with more decimals than the chunks keep (rare): their texts, summed in
            # Python. A second query, so that the usual read never reads the texts.
            texts = dict(self.run([f"groupArrayIf(num_text[{at}], {wide})"]))
            rows = [(*row[:-1], texts.get(row[0], [])) for row in rows]
        elif aggregation in (Aggregation.SUM, Aggregation.AVG):
            rows = [(*row[:-1], []) for row in rows]
        _add_rows(partials, aggregation, rows)


def _group_of(key, values: tuple):
    """The group of a row from its grouping columns (see `_Query._grouping`)."""
    if key is None:
        return None
    if key == "customer":
        return values[0]
    if key[0] == "property":
        return values[1] if values[0] else None
    return from_micros(values[0] * BUCKET_MICROS[key[1]])


def _figures(aggregation: str, found: list) -> dict:
    """Partial.add's figures from one group's ClickHouse row (see `_Query.partials`)."""
    figures = {"total": None, "minimum": None, "maximum": None, "latest": None}
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        *sums, scale, wide = found
        units = sum(int(total) * CHUNK ** (3 - index) for index, total in enumerate(sums))
        total = Decimal(units).scaleb(-SCALE, context=_EXACT)
        for text in wide:  # values with more decimals than the chunks keep: added exactly
            total = _EXACT.add(total, Decimal(text))
        figures["total"] = total.quantize(Decimal(1).scaleb(-int(scale)), context=_EXACT)
    elif aggregation in (Aggregation.MIN, Aggregation.MAX):
        best, fitting, wide = found
        candidates = [Decimal(text) for text in wide] + ([Decimal(best)] if fitting else [])
        key = "minimum" if aggregation == Aggregation.MIN else "maximum"
        figures[key] = (min if aggregation == Aggregation.MIN else max)(candidates)
    elif aggregation == Aggregation.LATEST:
        text, (moment, pk) = found
        figures["latest"] = (from_micros(moment), pk, Decimal(text))
    return figures


def _unique_counts(query: _Query, meter, pending, start, end, key, customers) -> dict:
    """Distinct values per group: ClickHouse's, plus the outbox events' values it lacks."""
    value = "text_values[indexOf(text_paths, %(field)s)]"
    rows = query.run(["count()", f"uniqExact({value})"])
    found = {group: (count, distinct) for group, count, distinct in rows if count}
    if pending:
        events = _pending_events(meter, customers, start, end, pending)
        group_key = _event_key(key)
        annotated = events.annotate(
            usage_value=PropertyText(meter.field),
            usage_key=group_key if group_key is not None else Value(None, output_field=TextField()),
        )
        new = {}
        for group, text in annotated.values_list("usage_key", "usage_value"):
            new.setdefault(group, []).append(text)
        query.params["values"] = tuple(sorted({text for texts in new.values() for text in texts}))
        query.source += f" AND {value} IN %(values)s"
        known = set()
        if query.params["values"]:
            known = {tuple(row) for row in query.run([f"{value} AS value"], also_group_by="value")}
        for group, texts in new.items():
            count, distinct = found.get(group, (0, 0))
            fresh = {text for text in texts if (group, text) not in known}
            found[group] = (count + len(texts), distinct + len(fresh))
    return {group: (count, Decimal(distinct)) for group, (count, distinct) in found.items()}
