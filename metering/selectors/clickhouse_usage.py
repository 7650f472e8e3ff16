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

from catalog.models import Aggregation, Meter
from metering.clickhouse import (
    CHUNK,
    SCALE,
    client,
    database_name,
    day_of,
    events_table,
    from_micros,
    micros,
)
from metering.expressions import PropertyText
from metering.models import ClickHouseOutbox, Event
from metering.properties import filter_value_text, property_path
from metering.rollups import NUMERIC
from metering.selectors.rollup_usage import _EXACT, Partial, _add_events

# Beyond this many outbox events for the customers read (the sync is behind), the read goes
# to the database alone: a NOT IN list that long costs more than it saves.
MAX_PENDING = 20_000
BUCKET_MICROS = {"hour": 3_600_000_000, "day": 86_400_000_000}


def clickhouse_usage(
    *, meter: Meter, external_customer_ids: list[str], start: datetime, end: datetime, key
) -> dict | None:
    """{group: (count, quantity)} of the meter over [start, end), or None when the outbox is
    too far behind (the caller then reads the database).

    `key`: None (one group, None), "customer", ("property", path) (None: events without it)
    or ("bucket", "hour" | "day") (the bucket's start).
    """
    customers = list(external_customer_ids)
    pending = list(
        ClickHouseOutbox.objects.filter(external_customer_id__in=customers).values_list(
            "event_pk", flat=True
        )[: MAX_PENDING + 1]
    )
    if len(pending) > MAX_PENDING:
        return None
    query = _Query(meter, customers, start, end, key, pending)
    if meter.aggregation == Aggregation.UNIQUE_COUNT:
        return _unique_counts(query, meter, pending, start, end, key, customers)
    partials = query.partials()
    if pending:
        _add_events(
            partials,
            _pending_events(meter, customers, start, end, pending),
            meter=meter,
            key=_event_key(key),
        )
    aggregation = meter.aggregation
    return {group: (part.count, part.quantity(aggregation)) for group, part in partials.items()}


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


class _Query:
    """The SQL of one read: counted rows of the meter, grouped by the key."""

    def __init__(self, meter, customers, start, end, key, pending):
        self.meter = meter
        self.key = key
        field = ".".join(property_path(meter.field or ""))
        self.params = {
            "customers": tuple(customers),
            "name": meter.event_name,
            "start": micros(start),
            "end": micros(end),
            "first_day": day_of(start),
            "last_day": day_of(end),
            "pending": tuple(pending) or (0,),
            "field": field,
        }
        table = f"{database_name()}.{events_table()}"
        # Conditions on columns no version changes (all but `excluded`) may filter before
        # FINAL's merge; `excluded` is read after it, so an excluded event's older version
        # never survives.
        inner = (
            f"SELECT {', '.join(self._columns())} FROM {table} FINAL "
            "WHERE customer IN %(customers)s "
            "AND event_name = %(name)s AND day >= %(first_day)s AND day <= %(last_day)s "
            "AND ts >= %(start)s AND ts < %(end)s AND pk NOT IN %(pending)s"
        )
        conditions = ["excluded = 0"]
        for index, (prop, allowed) in enumerate(sorted((meter.filters or {}).items())):
            values = allowed if isinstance(allowed, list | tuple) else [allowed]
            path = ".".join(property_path(prop))
            self.params[f"filter{index}"] = path
            self.params[f"allowed{index}"] = tuple(filter_value_text(value) for value in values)
            position = f"indexOf(text_paths, %(filter{index})s)"
            conditions.append(
                f"{position} > 0 AND text_values[{position}] IN %(allowed{index})s"
                if values
                else "0"
            )
        if meter.aggregation in NUMERIC:
            conditions.append("indexOf(num_paths, %(field)s) > 0")
        elif meter.aggregation == Aggregation.UNIQUE_COUNT:
            conditions.append("indexOf(text_paths, %(field)s) > 0")
        self.source = f"({inner}) WHERE {' AND '.join(conditions)}"
        self.group_columns, self.group_sql = self._grouping()

    def _columns(self) -> list[str]:
        """Only the columns this read needs: ClickHouse reads each column apart."""
        meter, key = self.meter, self.key
        columns = ["customer", "ts", "pk", "excluded"]
        if (
            meter.filters
            or meter.aggregation == Aggregation.UNIQUE_COUNT
            or (key not in (None, "customer") and key[0] == "property")
        ):
            columns += ["text_paths", "text_values"]
        if meter.aggregation in NUMERIC:
            columns += ["num_paths", "num_text"]  # ClickHouse reads only those a query uses
        if meter.aggregation in NUMERIC - {Aggregation.LATEST}:
            columns += ["num_c0", "num_c1", "num_c2", "num_c3", "num_wide"]
        if meter.aggregation in (Aggregation.SUM, Aggregation.AVG):
            columns.append("num_scale")
        return columns

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
        key = self.key
        if key is None:
            return None
        if key == "customer":
            return values[0]
        if key[0] == "property":
            return values[1] if values[0] else None
        return from_micros(values[0] * BUCKET_MICROS[key[1]])

    def run(self, figures: list[str], *, also_group_by: str = "") -> list[tuple]:
        """[(group, figures...)] of the groups with counted rows."""
        columns = [*self.group_columns, *figures]
        sql = f"SELECT {', '.join(columns)} FROM {self.source}"
        grouping = ", ".join(part for part in (self.group_sql, also_group_by) if part)
        if grouping:
            sql += f" GROUP BY {grouping}"
        width = len(self.group_columns)
        rows = client().execute(sql, self.params, settings=_READ_SETTINGS)
        return [(self.group_of(row[:width]), *row[width:]) for row in rows]

    def partials(self) -> dict:
        """{group: Partial} with the figures the meter's aggregation needs, and only those
        (each aggregate over a customer's million rows costs)."""
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
        partials: dict = {}
        for group, count, *found in rows:
            if count:
                partials.setdefault(group, Partial()).add(
                    count=count, **_figures(aggregation, found)
                )
        return partials


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


# FINAL's merge, then `excluded`: no condition may move past it (docs/scaling.md).
_READ_SETTINGS = {"enable_optimize_predicate_expression": 0}


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
