"""Usage reads through exact rollups vs raw events, and ingestion with rollups vs COPY.

    .venv/bin/python bench/usage_reads.py [--events 1000000] [--runs 50]
    .venv/bin/python bench/usage_reads.py --events 10000000 --keep   # then --reuse --keep

One command, a few minutes, bounded by --time-limit (default 900 s); it only talks to
127.0.0.1. It creates a scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_usage), migrates it and bulk-loads (COPY, not
timed): one customer "big" on a monthly plan (a count meter and a sum meter, per-unit
charges) whose current period [Mar 1 10:37:12, Apr 1 10:37:12) holds --events events (half
of each meter), plus --background events of 1,000 other customers. Then it prints, in-process
(no HTTP), p50/p99 over --runs runs:

1. rollups: the time to build them from the raw events (`rollups_rebuild`, once);
2. reads: `usage_for_period` of each meter and the upcoming invoice, through rollups and,
   the in-run baseline, through raw events (the same selectors with the rollups switched
   off), beside one plain SQL `count(*)` / `sum(numeric)` over the same rows; then the same
   reads with 1 and with 24 dirty hours (events landed since the last refresh);
3. ingestion: --ingest events (1,000-event batches, 200 customers, the last hours) through
   the service with dirty marks (the chosen design), without them, and with the touched hours
   recomputed inside the ingest transaction (the alternative); the refresh task's time for
   the marks; and one plain COPY of the same rows into an empty twin table (the ceiling).

Targets: usage and upcoming invoice p99 ≤ 50 ms with 1 M events in the period; batch
ingestion ≥ 85 % of COPY, rollups included. Figures and machine go in docs/performance.md.
"""

import argparse
import io
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from scratch import (
    copy_events,
    drop_database,
    local_only,
    recreate_database,
    setup_django,
    time_limit,
    timings,
    vacuum_analyze,
)

ROOT = Path(__file__).resolve().parent.parent
PERIOD_START = datetime(2026, 3, 1, 10, 37, 12, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, 10, 37, 12, tzinfo=UTC)
AT = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="in the big period")
    parser.add_argument("--background", type=int, default=1_000_000, help="other customers")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per read")
    parser.add_argument("--raw-runs", type=int, default=10, help="timed runs per raw read")
    parser.add_argument("--ingest", type=int, default=100_000, help="events per ingest variant")
    parser.add_argument("--time-limit", type=int, default=900, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on a database kept by --keep (no load, no rollup build)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_usage"
        ),
    )
    return parser.parse_args()


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, load {load}"


# --- the data (not timed) ------------------------------------------------------------------


def load(events: int, background: int):
    from catalog.services import meter_create, plan_create
    from customers.models import Customer, Subscription, SubscriptionPhase

    calls = meter_create(
        code="api_calls", name="API calls", event_name="api_call", aggregation="count"
    )
    credits = meter_create(
        code="credits", name="Credits", event_name="credits_used", aggregation="sum", field="n"
    )
    plan = plan_create(
        code="pro",
        name="Pro",
        currency="USD",
        interval="month",
        base_amount="29.00",
        base_timing="in_arrears",
        charges=[
            {"meter": "credits", "model": "per_unit", "unit_amount": "0.25"},
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
        ],
    )
    customer = Customer.objects.create(external_id="big", name="Big customer", currency="USD")
    subscription = Subscription.objects.create(
        customer=customer,
        plan=plan,
        status="active",
        anchor="anniversary",
        started_at=PERIOD_START,
        current_period_start=PERIOD_START,
        current_period_end=PERIOD_END,
    )
    SubscriptionPhase.objects.create(
        subscription=subscription,
        plan=plan,
        starts_at=PERIOD_START,
        reason="start",
        cycle_anchor_at=PERIOD_START,
    )
    span = (AT - PERIOD_START).total_seconds()
    buffer = io.StringIO()
    received = AT.isoformat()
    for index in range(events):
        moment = PERIOD_START + timedelta(seconds=span * index / events)
        if index % 2:
            buffer.write(f"a{index}\tapi_call\tbig\t{moment.isoformat()}\t{{}}\t{received}\tf\n")
        else:
            value = f"{index % 7}.{index % 100:02d}"
            properties = '{"n": ' + value + "}"
            buffer.write(
                f"c{index}\tcredits_used\tbig\t{moment.isoformat()}\t{properties}\t{received}\tf\n"
            )
    for index in range(background):
        moment = PERIOD_START + timedelta(seconds=span * index / max(background, 1))
        buffer.write(
            f"b{index}\tapi_call\tother-{index % 1000:04d}\t{moment.isoformat()}\t{{}}\t"
            f"{received}\tf\n"
        )
    copy_events(buffer.getvalue(), table="metering_event")
    vacuum_analyze()
    return calls, credits, customer


def kept():
    """The meters and the customer of a kept database, as the load left them: the events the
    previous run landed in dirty hours are removed (its cleanup dropped their dirty marks, so
    the rollups never counted them), and so is its COPY twin table."""
    from django.db import connection

    from catalog.models import Meter
    from customers.models import Customer

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM metering_event WHERE event_id LIKE 'late-%%'")
        cursor.execute("DELETE FROM metering_eventkey WHERE event_id LIKE 'late-%%'")
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
    vacuum_analyze()
    return (
        Meter.objects.get(code="api_calls"),
        Meter.objects.get(code="credits"),
        Customer.objects.get(external_id="big"),
    )


def row(label: str, figures: tuple) -> None:
    p50, p99, result = figures
    print(f"  {label:<44} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   {result}")


def read_phase(args, calls, credits, customer) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from invoices.selectors import upcoming_invoice
    from metering.models import RollupCoverage
    from metering.selectors import usage_for_period

    def usage(meter):
        return lambda: usage_for_period(
            meter=meter, external_customer_id="big", start=PERIOD_START, end=PERIOD_END
        )

    def upcoming():
        return upcoming_invoice(customer=customer, at=AT).total

    def raw_sql():
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

    covered = list(RollupCoverage.objects.values_list("meter_id", "definition"))
    print("\n2. Reads, one customer's period (in-process):")
    row("usage, count meter, rollups", timings(usage(calls), args.runs))
    row("usage, sum meter, rollups", timings(usage(credits), args.runs))
    row("upcoming invoice (total), rollups", timings(upcoming, args.runs))
    with CaptureQueriesContext(connection) as statements:
        upcoming()
    print(f"  upcoming invoice: {len(statements.captured_queries)} SQL statements per call")
    RollupCoverage.objects.all().delete()  # the same selectors, now on raw events
    row("usage, count meter, raw events", timings(usage(calls), args.raw_runs))
    row("usage, sum meter, raw events", timings(usage(credits), args.raw_runs))
    row("upcoming invoice (total), raw events", timings(upcoming, args.raw_runs))
    row("plain SQL count + sum, same rows", timings(raw_sql, args.raw_runs))
    RollupCoverage.objects.bulk_create(
        RollupCoverage(meter_id=meter_id, definition=definition, built_at=AT)
        for meter_id, definition in covered
    )
    # Dirty hours: events landed since the last refresh. The current hour (the steady state
    # with the task running every minute), then each of the period's last 24 hours.
    from metering.services import events_ingest

    def land(hours) -> None:
        events_ingest(
            payloads=[
                {
                    "event_id": f"late-{name}-{hour}",
                    "event_name": name,
                    "external_customer_id": "big",
                    "timestamp": (AT - timedelta(hours=hour, minutes=1)).isoformat(),
                    "properties": {"n": Decimal("1.5")},
                }
                for hour in hours
                for name in ("api_call", "credits_used")
            ],
            at=AT,
        )

    land([0])
    row("usage, sum meter, rollups, 1 dirty hour", timings(usage(credits), args.runs))
    row("upcoming invoice, rollups, 1 dirty hour", timings(upcoming, args.runs))
    land(range(1, 24))
    row("usage, sum meter, rollups, 24 dirty hours", timings(usage(credits), args.runs))
    row("upcoming invoice, rollups, 24 dirty hours", timings(upcoming, args.runs))


def ingest_phase(args) -> None:
    from django.db import connection, transaction

    from metering import services
    from metering.models import RollupDirtyBucket
    from metering.rollups import _covered_meters, _recompute, hour_floor, rollups_refresh
    from metering.validation import event_validate

    def rows_for(prefix: str):
        payloads = [
            {
                "event_id": f"{prefix}{index}",
                "event_name": "api_call" if index % 2 else "credits_used",
                "external_customer_id": f"ingest-{index % 200:03d}",
                "timestamp": (
                    AT - timedelta(seconds=(args.ingest - index) * 3 * 3600 / args.ingest)
                ).isoformat(),
                "properties": {"n": Decimal(index % 50)},
            }
            for index in range(args.ingest)
        ]
        rows = [event_validate(payload=payload, at=AT) for payload in payloads]
        return [rows[offset : offset + 1000] for offset in range(0, len(rows), 1000)]

    def cleanup(prefix: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM metering_event WHERE event_id LIKE %s", [prefix + "%"])
            # Dedup keys (PostgreSQL, docs/scaling.md "Partitioned events"): gone with them.
            cursor.execute("DELETE FROM metering_eventkey WHERE event_id LIKE %s", [prefix + "%"])
        RollupDirtyBucket.objects.all().delete()
        vacuum_analyze()

    def run(prefix: str, store) -> float:
        batches = rows_for(prefix)
        started = time.perf_counter()
        for batch in batches:
            store(batch)
        return args.ingest / (time.perf_counter() - started)

    def without_marks(batch):
        with transaction.atomic():
            services._insert_rows(batch, received_at=AT)

    def with_marks(batch):
        services._store_rows(batch, received_at=AT)

    def recompute_inline(batch):
        with transaction.atomic():
            services._insert_rows(batch, received_at=AT)
            names = {row.event_name for row in batch}
            hours = {(row.external_customer_id, hour_floor(row.timestamp)) for row in batch}
            for meter in _covered_meters(event_names=names):
                _recompute(meter=meter, hours=hours)

    print(f"\n3. Ingestion, {args.ingest:,} events in 1,000-event batches (in-process):")
    plain = run("p", without_marks)
    cleanup("p")
    marked = run("m", with_marks)
    started = time.perf_counter()
    refreshed = rollups_refresh(at=AT)
    refresh_seconds = time.perf_counter() - started
    cleanup("m")
    inline = run("i", recompute_inline)
    cleanup("i")
    text = io.StringIO()
    for batch in rows_for("c"):
        for item in batch:
            text.write(
                f"{item.event_id}\t{item.event_name}\t{item.external_customer_id}\t"
                f"{item.timestamp.isoformat()}\t{item.properties_json}\t{AT.isoformat()}\tf\n"
            )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_copy (LIKE metering_event INCLUDING ALL)")
        # The unique key lives in metering_eventkey on PostgreSQL: the twin gets it back.
        cursor.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS bench_copy_key "
            "ON bench_copy (external_customer_id, event_id)"
        )
    started = time.perf_counter()
    with transaction.atomic():
        copy_events(text.getvalue(), table="bench_copy")
    copied = args.ingest / (time.perf_counter() - started)
    with_refresh = args.ingest / (args.ingest / marked + refresh_seconds)
    print(f"  service, no rollup marks                 {plain:10,.0f} events/s")
    print(
        f"  service + dirty marks (chosen)           {marked:10,.0f} events/s"
        f"   ({marked / copied:.0%} of COPY)"
    )
    print(
        f"  refresh task for those marks             {refresh_seconds:10.1f} s"
        f"   ({refreshed.summary()}); ingest + refresh {with_refresh:,.0f} events/s"
        f" ({with_refresh / copied:.0%} of COPY)"
    )
    print(
        f"  service + recompute in the transaction   {inline:10,.0f} events/s"
        f"   ({inline / copied:.0%} of COPY)"
    )
    print(f"  plain COPY into an empty twin table      {copied:10,.0f} rows/s")


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    print(f"machine: {machine()}")
    if not args.reuse:
        recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from metering.rollups import rollups_check, rollups_rebuild

    try:
        call_command("migrate", verbosity=0)
        if args.reuse:
            read_phase(args, *kept())
            ingest_phase(args)
            print(f"\nmachine at the end: {machine()}")
            return
        started = time.perf_counter()
        calls, credits, customer = load(args.events, args.background)
        print(
            f"load: {args.events:,} events in the big period + {args.background:,} others "
            f"(COPY, not the benchmark): {time.perf_counter() - started:.1f} s"
        )
        print(f"PostgreSQL {connection.cursor().connection.info.server_version}")
        print("\n1. Rollups built from raw events (rollups_rebuild):")
        for meter in (calls, credits):
            started = time.perf_counter()
            written = rollups_rebuild(meter=meter, at=AT)
            print(f"  {meter.code:<12} {written:,} rows in {time.perf_counter() - started:.1f} s")
        vacuum_analyze()
        started = time.perf_counter()
        mismatches = rollups_check(external_customer_id="big")
        print(
            f"  check against raw events (big): {len(mismatches)} mismatches "
            f"in {time.perf_counter() - started:.1f} s"
        )
        read_phase(args, calls, credits, customer)
        ingest_phase(args)
        print(f"\nmachine at the end: {machine()}")
        print("targets: usage and upcoming p99 <= 50 ms at 1 M events; ingest >= 85 % of COPY")
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
