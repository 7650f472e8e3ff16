"""Cycle-close benchmark: 10,000 subscriptions with three metered charges each, on PostgreSQL.

    .venv/bin/python bench/close_cycles.py [--subscriptions 10000] [--workers 1]

One command, a few minutes, bounded by --time-limit (default 600 s); it only talks to
127.0.0.1. It creates a scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_close), migrates it, and bulk-loads (not timed):
3 meters (sum, count, max), one plan ($29 in arrears + three per-unit charges), N customers
each subscribed on March 1, 2026 (monthly), and --events-per-meter events per customer and
meter in March (COPY). Then it times, through the production service `cycles_close`:

1. the close at 2026-04-01 00:05, in --workers processes: N invoices of 4 lines, numbered
   and finalized (each one queues its PDF task on commit, as in production);
2. a second run at the same moment (nothing left to do: the idempotence check's cost);
3. `invoices_verify` (what `manage.py verify_invoices` and its daily schedule run): every
   invoice's usage lines recomputed from the raw events and the charge ledger.

It checks that every invoice has the expected total and prints the figures.
Target: ≤ 20 s for 10,000 on one machine (issue 14), shorter with --workers 2. The figures
and the machine go in docs/performance.md.
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
    database_name,
    drop_database,
    local_only,
    recreate_database,
    setup_django,
    time_limit,
)

ROOT = Path(__file__).resolve().parent.parent
PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
CLOSE_AT = PERIOD_END + timedelta(minutes=5)


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--events-per-meter", type=int, default=5)
    parser.add_argument("--time-limit", type=int, default=600, help="whole run, seconds")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the close")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip timing invoices_verify (close only)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_close"
        ),
    )
    return parser.parse_args()


# --- the data (not timed) ------------------------------------------------------------------


def load(subscriptions: int, events_per_meter: int) -> Decimal:
    """Create the catalog, customers, subscriptions and events; return each invoice's total."""
    from catalog.services import meter_create, plan_create
    from customers.models import Customer, Subscription, SubscriptionPhase

    meter_create(
        code="credits", name="Credits", event_name="credits_used", aggregation="sum", field="n"
    )
    meter_create(code="api_calls", name="API calls", event_name="api_call", aggregation="count")
    meter_create(
        code="storage_gb", name="Storage", event_name="storage", aggregation="max", field="gb"
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
            {"meter": "storage_gb", "model": "per_unit", "unit_amount": "1.80"},
        ],
    )
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"bench-{index:06d}", name=f"Bench customer {index}", currency="USD")
        for index in range(subscriptions)
    )
    rows = Subscription.objects.bulk_create(
        Subscription(
            customer=customer,
            plan=plan,
            status="active",
            anchor="anniversary",
            started_at=PERIOD_START,
            current_period_start=PERIOD_START,
            current_period_end=PERIOD_END,
        )
        for customer in customers
    )
    SubscriptionPhase.objects.bulk_create(
        SubscriptionPhase(
            subscription=subscription,
            plan=plan,
            starts_at=PERIOD_START,
            reason="start",
            cycle_anchor_at=PERIOD_START,
        )
        for subscription in rows
    )
    copy_events(customers, events_per_meter)
    # Each customer: credits 3 per event, one call per event, storage peaks at 4 GB.
    credits = Decimal(3 * events_per_meter) * Decimal("0.25")
    calls = Decimal(events_per_meter) * Decimal("0.01")
    storage = Decimal(4) * Decimal("1.80")
    return Decimal("29.00") + credits + calls + storage


def copy_events(customers, events_per_meter: int) -> None:
    from django.db import connection

    received = PERIOD_END.isoformat()
    buffer = io.StringIO()
    for customer in customers:
        external_id = customer.external_id
        for index in range(events_per_meter):
            moment = (PERIOD_START + timedelta(days=index % 28, minutes=index)).isoformat()
            buffer.write(
                f"c{index}\tcredits_used\t{external_id}\t{moment}\t"
                '{"n": 3}' + f"\t{received}\tf\n"
            )
            buffer.write(f"a{index}\tapi_call\t{external_id}\t{moment}\t{{}}\t{received}\tf\n")
            gb = 4 if index == 0 else 1 + index % 3
            buffer.write(
                f's{index}\tstorage\t{external_id}\t{moment}\t{{"gb": {gb}}}\t{received}\tf\n'
            )
    columns = (
        "event_id, event_name, external_customer_id, timestamp, properties, received_at, is_late"
    )
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor().copy(f"COPY metering_event ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- the timed part ------------------------------------------------------------------------


def backend_cpu(connection) -> tuple[int, float] | None:
    """(pid, CPU seconds, user + system) of the PostgreSQL backend of this connection so far,
    from /proc (the database is on this machine); None where /proc does not show it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StatementCount:
    """A connection.execute_wrapper counting the statements this process sends. A COPY does not
    go through execute(): billing.bulk.rows_insert reads its ids first, counted as `copies`."""

    def __init__(self):
        self.total = self.copies = 0

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        self.copies += "pg_get_serial_sequence" in sql
        return execute(sql, params, many, context)


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.1f} s")
    return result, elapsed


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from invoices.models import Invoice, InvoiceLine
    from invoices.services import cycles_close, invoices_verify

    try:
        call_command("migrate", verbosity=0)
        (expected_total, _) = timed(
            f"load {args.subscriptions} subscriptions, "
            f"{args.subscriptions * 3 * args.events_per_meter} events (not the benchmark)",
            lambda: load(args.subscriptions, args.events_per_meter),
        )
        load_before = os.getloadavg()
        server_before = backend_cpu(connection)
        cpu_before = time.process_time()
        statements = StatementCount()
        with connection.execute_wrapper(statements):
            report, first = timed(
                f"cycle close ({args.workers} process(es))",
                lambda: cycles_close(at=CLOSE_AT, workers=args.workers),
            )
        close_cpu = time.process_time() - cpu_before
        server_after = backend_cpu(connection)
        again, second = timed("second run (nothing due)", lambda: cycles_close(at=CLOSE_AT))
        if not args.no_verify:
            verification, verify_seconds = timed(
                "verify_invoices", lambda: invoices_verify(at=CLOSE_AT + timedelta(days=1))
            )

        invoices = Invoice.objects.filter(status="finalized")
        wrong = invoices.exclude(total=expected_total).count()
        print(
            f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"PostgreSQL via {database_name(args.database_url)}"
        )
        print(f"subscriptions              {args.subscriptions}")
        print(
            f"invoices finalized         {invoices.count()} ({InvoiceLine.objects.count()} lines)"
        )
        print(f"errors                     {len(report.errors)}; wrong totals {wrong}")
        rate = args.subscriptions / first
        print(
            f"close                      {first:.1f} s ({rate:.0f} subscriptions/s; "
            f"this process's CPU {close_cpu:.1f} s)"
        )
        # With --workers the connection is closed before the fork: another backend after.
        if server_before and server_after and server_before[0] == server_after[0]:
            print(
                f"PostgreSQL backend's CPU   {server_after[1] - server_before[1]:.1f} s "
                "(this process's connection)"
            )
        print(
            f"statements                 {statements.total} by this process "
            f"({statements.total * 1000 / args.subscriptions:.0f} per 1,000 subscriptions; "
            f"{statements.copies} of them id reads, each followed by a COPY)"
        )
        print(
            "load average               "
            + " ".join(f"{value:.2f}" for value in load_before)
            + " before the close (1, 5, 15 min)"
        )
        print(f"second run                 {second:.2f} s ({len(again.created)} created)")
        if args.subscriptions == 10_000:
            verdict = "met" if first <= 20 else "MISSED"
            print(f"target                     ≤ 20 s for 10,000: {verdict}")
        if not args.no_verify:
            print(
                f"verify_invoices            {verify_seconds:.1f} s for {verification.checked} "
                f"invoices ({verification.checked / verify_seconds:.0f}/s), "
                f"{len(verification.drifted)} with drift"
            )
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
