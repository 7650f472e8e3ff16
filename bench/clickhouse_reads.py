"""Usage reads on ClickHouse (EVENTS_BACKEND=clickhouse) beside the same reads on PostgreSQL.

    scripts/clickhouse_local.sh start
    .venv/bin/python bench/clickhouse_reads.py [--events 1000000] [--runs 50]

One command, bounded by --time-limit (default 1200 s); it only talks to 127.0.0.1. It creates
a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_clickhouse) and a scratch ClickHouse database
(BENCH_CLICKHOUSE_URL, default clickhouse://default@127.0.0.1:19000/tally_bench), loads the
data of bench/usage_reads.py (one customer "big" whose current period holds --events events
of a count meter and a sum meter, plus --background events of 1,000 other customers) with
COPY, writes every event to ClickHouse (`clickhouse_backfill`, timed, not the benchmark),
builds ClickHouse's hourly rollups of both meters (`clickhouse_rollups_rebuild`, timed), then
prints p50/p99 over --runs runs (in-process, no HTTP) of `usage_for_period` of each meter and
of the upcoming invoice:

1. on ClickHouse (one server) through its hourly rollups;
2. the same with 1,000 events still in the outbox (their hours read raw, the events from
   PostgreSQL meanwhile);
3. on ClickHouse from raw events with FINAL (the rollups' in-run baseline), and a plain
   ClickHouse count + sum of the same rows with FINAL;
4. on PostgreSQL through rollups, and through raw events (the in-run baseline), beside a
   plain SQL count + sum of the same rows.

Target (issue 14): usage and upcoming p99 ≤ 50 ms with 1 M and ≤ 100 ms with 10 M events.
Figures and machine go in docs/performance.md.
"""

import argparse
import os
import time
from datetime import timedelta
from decimal import Decimal

from scratch import (
    drop_database,
    local_only,
    recreate_database,
    setup_django,
    time_limit,
    timings,
    vacuum_analyze,
)
from usage_reads import AT, PERIOD_END, PERIOD_START, load, machine, row


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="in the big period")
    parser.add_argument("--background", type=int, default=200_000, help="other customers")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per read")
    parser.add_argument("--raw-runs", type=int, default=10, help="timed runs per raw read")
    parser.add_argument("--time-limit", type=int, default=1200, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_clickhouse"
        ),
    )
    parser.add_argument(
        "--clickhouse-url",
        default=os.environ.get(
            "BENCH_CLICKHOUSE_URL", "clickhouse://default@127.0.0.1:19000/tally_bench"
        ),
    )
    parser.add_argument(
        "--clickhouse-only",
        action="store_true",
        help="write the events to ClickHouse only, from generated columns (fast: for 10 M); "
        "PostgreSQL holds no events then, and its reads are left out",
    )
    return parser.parse_args()


def main() -> None:
    args = options()
    local_only(args.database_url)
    local_only(args.clickhouse_url)
    time_limit(args.time_limit)
    print(f"machine: {machine()}")
    recreate_database(args.database_url)
    os.environ["CLICKHOUSE_URL"] = args.clickhouse_url
    os.environ["CLICKHOUSE_CLUSTER"] = ""
    setup_django(args.database_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from metering.clickhouse import clickhouse_backfill, clickhouse_migrate, client, database_name
    from metering.clickhouse_rollups import clickhouse_rollups_rebuild
    from metering.rollups import rollups_rebuild

    database = database_name(args.clickhouse_url)
    try:
        call_command("migrate", verbosity=0)
        client().execute(f"DROP DATABASE IF EXISTS {database}")
        clickhouse_migrate()
        started = time.perf_counter()
        if args.clickhouse_only:
            calls, credits, customer = load(0, 0)
            written = generated_write(args.events, args.background)
            with connection.cursor() as cursor:  # later events' pks follow ClickHouse's
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('metering_event', 'id'), %s)",
                    [written + 1],
                )
            how = "generated columns, ClickHouse only"
        else:
            calls, credits, customer = load(args.events, args.background)
            print(
                f"load: {args.events:,} events in the big period + {args.background:,} others "
                f"(COPY): {time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            written = clickhouse_backfill(batch_size=50_000)
            how = "clickhouse_backfill"
        client().execute(f"OPTIMIZE TABLE {database}.events FINAL")
        print(
            f"ClickHouse {client().execute('SELECT version()')[0][0]}: {written:,} events "
            f"written and merged in {time.perf_counter() - started:.1f} s ({how})"
        )
        for meter in (calls, credits):
            rollups_rebuild(meter=meter, at=AT)
        started = time.perf_counter()
        for meter in (calls, credits):
            clickhouse_rollups_rebuild(meter=meter, at=AT)
        rows = client().execute(f"SELECT count() FROM {database}.usage_rollups")[0][0]
        print(
            f"ClickHouse hourly rollups of both meters: {rows:,} rows built in "
            f"{time.perf_counter() - started:.1f} s (clickhouse_rollups_rebuild)"
        )
        vacuum_analyze()
        reads(args, calls, credits, customer, settings)
        print(f"\nmachine at the end: {machine()}")
        print("target: usage and upcoming p99 <= 50 ms at 1 M events, <= 100 ms at 10 M")
    finally:
        if not args.keep:
            client().execute(f"DROP DATABASE IF EXISTS {database}")
            drop_database(args.database_url)


def generated_write(events: int, background: int, batch: int = 500_000) -> int:
    """Write the events of `usage_reads.load` straight to ClickHouse as its columns (what
    `event_columns` would make of them), without PostgreSQL: a 10 M load in minutes."""
    from datetime import date

    from metering.clickhouse import COLUMN_NAMES, micros, rows_insert

    start, span = micros(PERIOD_START), micros(AT) - micros(PERIOD_START)
    epoch = date(1970, 1, 1).toordinal()
    days: dict[int, date] = {}
    columns: list[list] = [[] for _ in COLUMN_NAMES]
    written = 0

    def add(pk, customer, event_id, name, ts, number):
        day = ts // 86_400_000_000
        if day not in days:
            days[day] = date.fromordinal(epoch + day)
        values = (customer, event_id, pk, name, ts, days[day], 0)
        if number is None:
            values += ([], [], [], [], [], [], [], [], [], [])
        else:
            text, whole, cents = number
            values += (["n"], [text], ["n"], [0], [whole], [cents * 10**7], [0], [2], [text], [0])
        for column, value in zip(columns, values, strict=True):
            column.append(value)

    def flush():
        nonlocal columns, written
        rows_insert(columns)
        written += len(columns[0])
        columns = [[] for _ in COLUMN_NAMES]

    for index in range(events):
        ts = start + span * index // events
        if index % 2:
            add(index + 1, "big", f"a{index}", "api_call", ts, None)
        else:
            whole, cents = index % 7, index % 100
            add(
                index + 1,
                "big",
                f"c{index}",
                "credits_used",
                ts,
                (f"{whole}.{cents:02d}", whole, cents),
            )
        if len(columns[0]) >= batch:
            flush()
    for index in range(background):
        ts = start + span * index // max(background, 1)
        customer = f"other-{index % 1000:04d}"
        add(events + index + 1, customer, f"b{index}", "api_call", ts, None)
        if len(columns[0]) >= batch:
            flush()
    flush()
    return written


def reads(args, calls, credits, customer, settings) -> None:
    from django.db import connection

    from invoices.selectors import upcoming_invoice
    from metering.clickhouse import clickhouse_sync, client, database_name
    from metering.models import ClickHouseOutbox, ClickHouseRollupCoverage, RollupCoverage
    from metering.selectors import usage_for_period
    from metering.services import events_ingest

    def usage(meter):
        return lambda: usage_for_period(
            meter=meter, external_customer_id="big", start=PERIOD_START, end=PERIOD_END
        )

    def upcoming():
        return upcoming_invoice(customer=customer, at=AT).total

    def clickhouse_sql():
        return client().execute(
            "SELECT countIf(event_name = 'api_call'), sumIf(num_c2[1], event_name = "
            f"'credits_used') FROM {database_name()}.events FINAL "
            "WHERE customer = 'big' AND ts >= %(start)s AND ts < %(end)s",
            {
                "start": int(PERIOD_START.timestamp() * 1e6),
                "end": int(PERIOD_END.timestamp() * 1e6),
            },
        )[0]

    def postgres_sql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE event_name = 'api_call'), "
                "sum((properties ->> 'n')::numeric) FILTER (WHERE event_name = 'credits_used') "
                "FROM metering_event WHERE external_customer_id = 'big' "
                "AND event_name IN ('api_call', 'credits_used') "
                "AND timestamp >= %s AND timestamp < %s",
                [PERIOD_START, PERIOD_END],
            )
            return cursor.fetchone()

    settings.EVENTS_BACKEND = "clickhouse"
    print("\n1. ClickHouse (EVENTS_BACKEND=clickhouse, one server), hourly rollups:")
    row("usage, count meter", timings(usage(calls), args.runs))
    row("usage, sum meter", timings(usage(credits), args.runs))
    row("upcoming invoice (total)", timings(upcoming, args.runs))

    events_ingest(
        payloads=[
            {
                "event_id": f"pending-{index}",
                "event_name": "credits_used" if index % 2 else "api_call",
                "external_customer_id": "big",
                "timestamp": (AT - timedelta(seconds=index)).isoformat(),
                "properties": {"n": Decimal("1.5")},
            }
            for index in range(1000)
        ],
        at=AT,
    )
    pending = ClickHouseOutbox.objects.count()
    print(f"\n2. ClickHouse rollups with {pending:,} events of the customer still in the outbox:")
    row("usage, sum meter", timings(usage(credits), args.runs))
    row("upcoming invoice (total)", timings(upcoming, args.runs))

    started = time.perf_counter()
    synced = clickhouse_sync()
    print(
        f"clickhouse_sync: {synced.written:,} events written and their hours' rollups "
        f"recomputed in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    row("usage, sum meter, after the sync", timings(usage(credits), args.runs))
    ClickHouseRollupCoverage.objects.all().delete()
    print("\n3. ClickHouse from raw events (FINAL), the rollups' in-run baseline:")
    row("usage, count meter", timings(usage(calls), args.raw_runs))
    row("usage, sum meter", timings(usage(credits), args.raw_runs))
    row("upcoming invoice (total)", timings(upcoming, args.raw_runs))
    row("plain ClickHouse count + sum, same rows", timings(clickhouse_sql, args.raw_runs))

    if args.clickhouse_only:
        return
    settings.EVENTS_BACKEND = "database"
    print("\n4. PostgreSQL (EVENTS_BACKEND=database), the same events:")
    row("usage, count meter, rollups", timings(usage(calls), args.runs))
    row("usage, sum meter, rollups", timings(usage(credits), args.runs))
    row("upcoming invoice (total), rollups", timings(upcoming, args.runs))
    RollupCoverage.objects.all().delete()
    row("usage, count meter, raw events", timings(usage(calls), args.raw_runs))
    row("usage, sum meter, raw events", timings(usage(credits), args.raw_runs))
    row("upcoming invoice (total), raw events", timings(upcoming, args.raw_runs))
    row("plain SQL count + sum, same rows", timings(postgres_sql, args.raw_runs))


if __name__ == "__main__":
    main()
