"""The ingest statement on the partitioned events table against the plain table it replaced.

    .venv/bin/python bench/partitions.py [--events 200000] [--rounds 2]

One command, in-process (no HTTP), about a minute. On a scratch PostgreSQL database
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/tally_bench_partitions) it
stores the same events in 1,000-event batches of 200 customers over three months, alternating:

- partitioned: `metering.services._store_rows` as shipped (migration 0007: monthly
  partitions, the events' three months created, dedup keys in metering_eventkey, one CTE
  statement per batch);
- plain (the in-run baseline): the schema before 0007 (migrated back to 0006) and the
  statement ingestion used then (`INSERT … ON CONFLICT (customer, event id) DO NOTHING` on the
  events table, with the rollup marks in the same statement).

Each round empties the tables first, so both start from the same state; the figures of every
round are printed with the load average. Figures go in docs/performance.md.
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import drop_database, local_only, machine, recreate_database, setup_django  # noqa: E402

AT = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)

PLAIN_STATEMENT = (
    "WITH inserted AS (INSERT INTO metering_event (event_id, event_name, external_customer_id, "
    "timestamp, properties, received_at, is_late) "
    "SELECT u.event_id, u.event_name, u.customer, u.ts, u.props::jsonb, %b, false "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[]) "
    "AS u(event_id, event_name, customer, ts, props) ORDER BY u.customer, u.event_id "
    "ON CONFLICT (external_customer_id, event_id) DO NOTHING "
    "RETURNING external_customer_id, event_name, timestamp), "
    "marked AS (INSERT INTO metering_rollupdirtybucket (external_customer_id, event_name, "
    "bucket_start) SELECT DISTINCT external_customer_id, event_name, "
    "date_trunc('hour', timestamp, 'UTC') FROM inserted RETURNING 1) "
    "SELECT count(*) FROM inserted"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_partitions"
        ),
    )
    args = parser.parse_args()
    local_only(args.database_url)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        run(args, call_command)
    finally:
        drop_database(args.database_url)


def run(args, call_command) -> None:
    import psycopg
    from django.db import connection, transaction

    from metering import services
    from metering.partitions import partition_create
    from metering.validation import event_validate

    span = timedelta(days=89)
    rows = [
        event_validate(
            payload={
                "event_id": f"e{index}",
                "event_name": "api_call",
                "external_customer_id": f"customer-{index % 200:03d}",
                "timestamp": (AT - span * (1 - index / args.events)).isoformat(),
                "properties": {"tokens": index % 50},
            },
            at=AT,
        )
        for index in range(args.events)
    ]
    batches = [rows[offset : offset + 1000] for offset in range(0, len(rows), 1000)]

    def empty() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('metering_eventkey') IS NOT NULL")
            keys = ", metering_eventkey" if cursor.fetchone()[0] else ""
            cursor.execute(f"TRUNCATE metering_event, metering_rollupdirtybucket{keys}")
            cursor.execute("CHECKPOINT")

    def partitioned() -> None:
        for batch in batches:
            services._store_rows(batch, received_at=AT)

    def plain() -> None:
        connection.ensure_connection()
        for batch in batches:
            with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(
                    PLAIN_STATEMENT,
                    [
                        AT,
                        [row.event_id for row in batch],
                        [row.event_name for row in batch],
                        [row.external_customer_id for row in batch],
                        [row.timestamp for row in batch],
                        [row.properties_json for row in batch],
                    ],
                )

    print(f"Machine: {machine()}")
    print(f"{args.events:,} events, 1,000-event batches, 200 customers, 3 months\n")
    for number in range(1, args.rounds + 1):
        for name, store, migration in (
            ("partitioned (0007)", partitioned, "0007_partitioned_events"),
            (
                "plain table (0006), baseline",
                plain,
                "0006_merge_clickhouse_outbox_entitlement_alerts",
            ),
        ):
            call_command("migrate", "metering", migration, verbosity=0)
            empty()
            if store is partitioned:  # the events' months, as the schedule would have made
                for month in (1, 2, 3):
                    partition_create(month=date(2026, month, 1))
            started = time.perf_counter()
            store()
            seconds = time.perf_counter() - started
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM metering_event")
                stored = cursor.fetchone()[0]
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(
                f"round {number} · {name:30} {args.events / seconds:9,.0f} events/s "
                f"({stored:,} stored; load {load})"
            )
            # A second pass of the same batches: every event a duplicate.
            started = time.perf_counter()
            store()
            seconds = time.perf_counter() - started
            print(
                f"        {'  the same again (duplicates)':30} "
                f"{args.events / seconds:9,.0f} events/s"
            )


if __name__ == "__main__":
    main()
