"""What a rollup dirty mark costs inside the ingest statement, its index against the others.

    .venv/bin/python bench/marks.py [--rounds 300]

One command, about a minute. In-process (no HTTP) on a scratch PostgreSQL database
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/tally_bench_marks), one
connection. Each round sends one 1,000-event batch through `metering.services.events_ingest`
(the real ingest statement) per arm, the arms' order reversed every other round, so that a
change in the machine's speed during the run weighs on every arm alike:

- live: timestamps of the last ten seconds, on time, so no mark (docs/scaling.md, "Sealed
  hours");
- backfill, each event another customer's in another hour of the last month (the shape of
  `bench/ingest.py`'s phase 1b: a mark per event), its marks written to the marks table as
  shipped (indexed by customer), to one keyed by (customer, event name, hour) as before
  migration `metering 0011`, and to one with no index and no key (the floor: the row alone).

It prints, per arm, the batch's wall time and the database backend's CPU per 1,000 events
(from /proc: what other processes do does not count). The events of every arm land in the
same tables, so their indexes grow alike. Figures in docs/performance.md.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from scratch import (
    cpu_seconds,
    drop_database,
    local_only,
    machine,
    recreate_database,
    setup_django,
    time_limit,
)

NAMES = ("api_call", "llm_tokens", "credits_used", "storage")
BATCH = 1000
# The arms: label, marks table ("" = the shipped one), live timestamps.
ARMS = (
    ("live, no mark", "", True),
    ("backfill, marks indexed by customer (shipped)", "", False),
    ("backfill, marks keyed by customer, name, hour", "bench_marks_keyed", False),
    ("backfill, marks without index or key (floor)", "bench_marks_bare", False),
)


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="batches per arm")
    parser.add_argument("--time-limit", type=int, default=600, help="whole run, seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_marks"
        ),
    )
    return parser.parse_args()


def batch(number: int, *, live: bool, spread: list[datetime]) -> list[dict]:
    """Batch `number`: event ids never repeat, 1,000 customers, four names."""
    now = datetime.now(UTC)
    events = []
    for n in range(number * BATCH, (number + 1) * BATCH):
        timestamp = now - timedelta(milliseconds=10 * (n % BATCH)) if live else spread[n % 997]
        events.append(
            {
                "event_id": f"e-{n}",
                "event_name": NAMES[n % 4],
                "external_customer_id": f"customer-{n % 1000}",
                "timestamp": timestamp.isoformat(),
                "properties": {"tokens": n % 5000, "model": "small"},
            }
        )
    return events


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    print(f"machine: {machine()}")
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from metering.models import RollupDirtyBucket
    from metering.services import events_ingest

    shipped = RollupDirtyBucket._meta.db_table
    try:
        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            for table in ("bench_marks_keyed", "bench_marks_bare"):
                cursor.execute(f"CREATE TABLE {table} (LIKE {shipped} INCLUDING IDENTITY)")
            cursor.execute("ALTER TABLE bench_marks_keyed ADD PRIMARY KEY (id)")
            cursor.execute(
                "CREATE INDEX ON bench_marks_keyed (external_customer_id, event_name, bucket_start)"
            )
            pid = connection.connection.info.backend_pid
        start = datetime.now(UTC) - timedelta(seconds=17)
        spread = [start - timedelta(seconds=2591) * n for n in range(BATCH)]
        spent = {label: [0.0, 0.0] for label, *_ in ARMS}
        number = 0
        for round_number in range(args.rounds):
            for label, table, live in ARMS if round_number % 2 == 0 else ARMS[::-1]:
                payloads = batch(number, live=live, spread=spread)
                number += 1
                RollupDirtyBucket._meta.db_table = table or shipped
                try:
                    cpu, started = cpu_seconds(pid), time.perf_counter()
                    result = events_ingest(payloads=payloads, at=datetime.now(UTC))
                    wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
                finally:
                    RollupDirtyBucket._meta.db_table = shipped
                if result.accepted != BATCH:
                    sys.exit(f"{label}: {result.accepted} of {BATCH} events accepted")
                spent[label][0] += wall
                spent[label][1] += cpu
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {shipped}")
            marks = cursor.fetchone()[0]
        print(
            f"{args.rounds:,} batches of {BATCH:,} events per arm, arms alternated; "
            f"{marks:,} marks in the shipped table at the end"
        )
        floor = spent[ARMS[0][0]][1]
        for label, (wall, cpu) in spent.items():
            per = 1000 / args.rounds
            print(
                f"  {label:<48} wall {wall * per:5.1f} ms, PostgreSQL CPU {cpu * per:5.1f} ms "
                f"per 1,000 events ({(cpu - floor) * per:+.1f} over live)"
            )
        print(f"machine at the end: {machine()}")
    finally:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
