"""Exact per-meter hourly rollups inside ClickHouse (docs/scaling.md, "Hourly rollups in
ClickHouse").

A rollup row holds one meter's figures (count, the sum's chunks and scale, min and max with
their sort keys, the wide values' texts, latest) for one customer, one UTC hour and one value
of the meter's `group_by`, under one definition digest of the meter. ClickHouse computes it
from its own events table with `FINAL` and the meter's condition (the read's SQL,
`metering.selectors.clickhouse_usage`), in one `INSERT … SELECT`:

- `clickhouse_sync` recomputes, after its events insert and before it deletes its outbox rows,
  every (customer, hour) of the event names it wrote for every kept meter; a crash before the
  delete just redoes it. Exclusions go through the outbox too.
- The table is a `ReplacingMergeTree(version)`: a recomputation replaces the older row. The
  version comes from the database's sequence (`ClickHouseRollupVersion`), taken after the
  events insert and before the computation, so the row with the highest version saw every
  event whose sync took a lower one.
- A recomputation groups every event of the name in its hours, counted or not, so a group
  whose events were all excluded gets a row of zeros that replaces its old one.
- Coverage (`ClickHouseRollupCoverage`): a meter is kept from the moment a rebuild records its
  definition, and read once the rebuild finished.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from catalog.models import Aggregation, Meter
from metering.clickhouse import (
    HOUR_MICROS,
    READ_SETTINGS,
    ROLLUP_COLUMNS,
    client,
    database_name,
    events_table,
    from_micros,
    rollups_table,
)
from metering.models import ClickHouseOutbox, ClickHouseRollupCoverage, ClickHouseRollupVersion
from metering.properties import property_path
from metering.rollups import NUMERIC, ROLLED_UP, meter_definition

# (customer, hour)s recomputed per statement: ClickHouse keeps an IN set in a hash table.
HOURS_PER_QUERY = 50_000
# Up to this many runs of consecutive hours, a recomputation also names them as ranges of ts.
RUNS_PER_QUERY = 200


def rollup_version() -> int:
    """A version higher than every one taken before (the database's sequence)."""
    with transaction.atomic():
        row = ClickHouseRollupVersion.objects.create()
        ClickHouseRollupVersion.objects.filter(pk=row.pk).delete()
    return row.pk


def kept_meters(*, event_names: set[str] | None = None) -> list[tuple[Meter, bool]]:
    """[(meter, built)] of the meters whose rollups are kept under their current definition
    (built: complete, so reads may use them)."""
    coverages = ClickHouseRollupCoverage.objects.select_related("meter").order_by("meter_id")
    if event_names is not None:
        coverages = coverages.filter(meter__event_name__in=event_names)
    return [
        (coverage.meter, coverage.built_at is not None)
        for coverage in coverages
        if coverage.meter.aggregation in ROLLED_UP
        and coverage.definition == meter_definition(meter=coverage.meter)
    ]


def built_definition(*, meter: Meter) -> str | None:
    """The meter's definition digest when its ClickHouse rollups are complete, else None."""
    if meter.pk is None or meter.aggregation not in ROLLED_UP:
        return None
    definition = meter_definition(meter=meter)
    found = ClickHouseRollupCoverage.objects.filter(
        meter_id=meter.pk, definition=definition, built_at__isnull=False
    ).exists()
    return definition if found else None


# --- computing ---------------------------------------------------------------------------


def rollup_rows_sql(
    meter: Meter, definition: str, version: int, scope: str, params: dict, prefix: str = ""
) -> str:
    """The SELECT of the meter's rollup rows (ROLLUP_COLUMNS' order) of the events in `scope`
    (a condition on the events table's key columns): every group of those events' hours,
    counted or not. Its values go in `params`, their names starting with `prefix`."""
    params.update(
        {
            f"{prefix}meter_id": meter.pk,
            f"{prefix}definition": definition,
            f"{prefix}version": version,
            f"{prefix}name": meter.event_name,
        }
    )
    rows = rollup_row_columns(meter, params, prefix)
    aggregation = meter.aggregation
    figures = ["countIf(row_counted)"]
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        figures += [f"sumIf(toUInt64(c{chunk}), row_fits)" for chunk in range(4)]
        figures.append("toUInt16(maxIf(row_scale, row_counted))")
    else:
        figures += ["toUInt64(0)"] * 4 + ["toUInt16(0)"]
    if aggregation in (Aggregation.MIN, Aggregation.MAX):
        figures.append("countIf(row_fits)")
        low = aggregation == Aggregation.MIN
        figures += (
            ["minIf(sort_key, row_fits)", "argMinIf(text, sort_key, row_fits)", "''", "''"]
            if low
            else ["''", "''", "maxIf(sort_key, row_fits)", "argMaxIf(text, sort_key, row_fits)"]
        )
    else:
        figures += ["toUInt64(0)", "''", "''", "''", "''"]
    if aggregation in NUMERIC - {Aggregation.LATEST}:
        figures.append("groupArrayIf(text, row_wide)")
    else:
        figures.append("emptyArrayString()")
    if aggregation == Aggregation.LATEST:
        order = "tuple(ts, pk)"
        figures += [
            f"argMaxIf(ts, {order}, row_counted)",
            f"argMaxIf(pk, {order}, row_counted)",
            f"argMaxIf(text, {order}, row_counted)",
        ]
    else:
        figures += ["toInt64(0)", "toUInt64(0)", "''"]
    keys = [
        "row_customer",
        f"toUInt64(%({prefix}meter_id)s)",
        f"%({prefix}definition)s",
        "row_hour",
        "toUInt8(row_group_has)",
        "row_group_value",
        f"toUInt64(%({prefix}version)s)",
    ]
    # Each column named as the table's (ClickHouse would merge equal unnamed expressions).
    named = [
        f"{sql} AS {name}" for sql, (name, _) in zip(keys + figures, ROLLUP_COLUMNS, strict=True)
    ]
    # The rows' expressions are computed in the FINAL select itself: ClickHouse evaluates a
    # select's expressions after FINAL's merge (only WHERE may run before it, and `scope` and
    # the name are on columns no version changes). One subquery level less matters: on
    # ClickHouse 18 each level costs a few ms of CPU, data or not (docs/performance.md, "The
    # upcoming invoice on ClickHouse").
    return (
        f"SELECT {', '.join(named)} FROM (SELECT {', '.join(rows)} "
        f"FROM {database_name()}.{events_table()} FINAL "
        f"WHERE event_name = %({prefix}name)s AND {scope}) "
        "GROUP BY row_customer, row_hour, row_group_has, row_group_value"
    )


def rollup_row_columns(meter: Meter, params: dict, prefix: str = "") -> list[str]:
    """The select list, over the events table, of each event's figures for `meter` (`row_counted`,
    `row_fits`, the chunks `c0`…`c3`, `text`, `sort_key`… as the meter's aggregation needs), that
    the rollup rows (and a window's raw figures) aggregate. Its values go in `params`."""
    from metering.selectors.clickhouse_usage import counted_condition

    counted = counted_condition(meter, params, prefix)
    rows = [
        "customer AS row_customer",
        f"intDiv(ts, {HOUR_MICROS}) AS row_hour",
        f"({counted}) AS row_counted",
    ]
    if meter.group_by:
        params[f"{prefix}group"] = ".".join(property_path(meter.group_by))
        at_group = f"indexOf(text_paths, %({prefix}group)s)"
        rows += [
            f"{at_group} > 0 AS row_group_has",
            f"if({at_group} > 0, text_values[{at_group}], '') AS row_group_value",
        ]
    else:
        rows += ["toUInt8(0) AS row_group_has", "'' AS row_group_value"]
    aggregation = meter.aggregation
    at = f"indexOf(num_paths, %({prefix}field)s)"
    if aggregation in NUMERIC:
        rows += [f"num_text[{at}] AS text"]
    if aggregation == Aggregation.LATEST:
        rows += ["ts", "pk"]
    if aggregation in NUMERIC - {Aggregation.LATEST}:
        rows += [f"num_c{chunk}[{at}] AS c{chunk}" for chunk in range(4)]
        rows += [
            f"row_counted AND num_wide[{at}] = 0 AS row_fits",
            f"row_counted AND num_wide[{at}] = 1 AS row_wide",
        ]
    if aggregation in (Aggregation.SUM, Aggregation.AVG):
        rows.append(f"num_scale[{at}] AS row_scale")
    if aggregation in (Aggregation.MIN, Aggregation.MAX):
        # The chunks as one string of 36 digits: its order is the numbers' order.
        padded = ", ".join(f"substring(toString(c{chunk} + {10**9}), 2)" for chunk in range(4))
        rows.append(f"concat({padded}) AS sort_key")
    return rows


def _insert(meter: Meter, definition: str, version: int, scope: str, params: dict) -> None:
    names = ", ".join(name for name, _ in ROLLUP_COLUMNS)
    select = rollup_rows_sql(meter, definition, version, scope, params)
    client().execute(
        f"INSERT INTO {database_name()}.{rollups_table()} ({names}) {select}",
        params,
        settings=READ_SETTINGS,
    )


def hour_runs(hours: set[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(customer, hour) pairs merged into runs of consecutive hours: [(customer, first, end)]."""
    runs: list[list] = []
    for customer, hour in sorted(hours):
        if runs and runs[-1][0] == customer and runs[-1][2] == hour:
            runs[-1][2] = hour + 1
        else:
            runs.append([customer, hour, hour + 1])
    return [tuple(run) for run in runs]


def rollups_after_write(columns: list[list]) -> int:
    """Recompute the kept meters' rollups of every (customer, hour) of the events just written
    (ClickHouse's columns, as `event_columns` gives them). Returns the hours recomputed."""
    from metering.selectors.clickhouse_usage import spans_sql

    hours_by_name: dict[str, set[tuple[str, int]]] = {}
    for customer, name, ts in zip(columns[0], columns[3], columns[4], strict=True):
        hours_by_name.setdefault(name, set()).add((customer, ts // HOUR_MICROS))
    meters = kept_meters(event_names=set(hours_by_name))
    if not meters:
        return 0
    version = rollup_version()  # after the insert: see the module's docstring
    done = 0
    for meter, _ in meters:
        hours = sorted(hours_by_name[meter.event_name])
        definition = meter_definition(meter=meter)
        for offset in range(0, len(hours), HOURS_PER_QUERY):
            chunk = hours[offset : offset + HOURS_PER_QUERY]
            params = {
                "customers": tuple(sorted({customer for customer, _ in chunk})),
                "days": tuple(
                    sorted({from_micros(hour * HOUR_MICROS).date() for _, hour in chunk})
                ),
                "hours": tuple(chunk),
                "low": min(hour for _, hour in chunk) * HOUR_MICROS,
                "high": (max(hour for _, hour in chunk) + 1) * HOUR_MICROS,
            }
            # The IN set is exact; the ranges of `ts` let the primary index skip the rest of
            # the customers' events (a tuple holding intDiv(ts) does not).
            scope = (
                "customer IN %(customers)s AND day IN %(days)s AND ts >= %(low)s "
                f"AND ts < %(high)s AND (customer, intDiv(ts, {HOUR_MICROS})) IN %(hours)s"
            )
            runs = hour_runs(set(chunk))
            if len(runs) <= RUNS_PER_QUERY:
                spans = [
                    (name, first * HOUR_MICROS, last * HOUR_MICROS) for name, first, last in runs
                ]
                scope += f" AND ({spans_sql(spans, params)})"
            _insert(meter, definition, version, scope, params)
        done += len(hours)
    return done


def clickhouse_rollups_rebuild(*, meter: Meter, at: datetime) -> bool:
    """Compute every ClickHouse rollup of `meter` under its current definition and mark it
    built (`clickhouse_events --rebuild-rollups`). False for an aggregation without rollups.

    First the definition is recorded (committed): from then on every sync keeps the meter's
    hours. Then one computation over all its events, with a version taken after that commit:
    an event a sync wrote before it is in the computation, one written after it is recomputed
    by its sync with a higher version. Then the meter is marked built."""
    if meter.aggregation not in ROLLED_UP:
        return False
    definition = meter_definition(meter=meter)
    ClickHouseRollupCoverage.objects.update_or_create(
        meter=meter, defaults={"definition": definition, "built_at": None}
    )
    _insert(meter, definition, rollup_version(), "1", {})
    ClickHouseRollupCoverage.objects.filter(meter=meter, definition=definition).update(built_at=at)
    return True


# --- the check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClickHouseRollupMismatch:
    meter: str
    external_customer_id: str
    hour: datetime
    group: str | None
    stored: tuple | None
    raw: tuple | None


def clickhouse_rollups_check(*, meters=None) -> list[ClickHouseRollupMismatch]:
    """Compare every built meter's ClickHouse rollups with a fresh computation from ClickHouse's
    events, leaving out the hours of customers with events still in the outbox (a sync is
    writing them): an empty list means they agree exactly."""
    meters = list(Meter.objects.order_by("code") if meters is None else meters)
    pending_customers = set(ClickHouseOutbox.objects.values_list("external_customer_id", flat=True))
    names = ", ".join(name for name, _ in ROLLUP_COLUMNS if name != "version")
    mismatches = []
    for meter in meters:
        definition = built_definition(meter=meter)
        if definition is None:
            continue
        params: dict = {}
        fresh = rollup_rows_sql(meter, definition, 0, "1", params)
        stored_sql = (
            f"SELECT {names} FROM {database_name()}.{rollups_table()} FINAL "
            "WHERE meter_id = %(meter_id)s AND definition = %(definition)s"
        )
        keyed = {}
        fresh_sql = f"SELECT {names} FROM ({fresh})"
        for source, sql in (("raw", fresh_sql), ("stored", stored_sql)):
            for row in client().execute(sql, params, settings=READ_SETTINGS):
                if row[0] in pending_customers:
                    continue
                keyed.setdefault((row[0], row[3], row[4], row[5]), {})[source] = row
        for (customer, hour, has, value), found in sorted(keyed.items()):
            raw, stored = found.get("raw"), found.get("stored")
            if raw != stored:
                mismatches.append(
                    ClickHouseRollupMismatch(
                        meter.code,
                        customer,
                        from_micros(hour * HOUR_MICROS).astimezone(UTC),
                        value if has else None,
                        stored,
                        raw,
                    )
                )
    return mismatches
