"""Event debugger benchmark: the admin's event list, each status filter and a customer search.

    .venv/bin/python bench/event_debugger.py [--events 5000000] [--runs 5]

One command, bounded by --time-limit (default 900 s); it only talks to 127.0.0.1. It creates
a scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_debugger), migrates it and generates (in SQL,
not timed) --events events over 60 days: 2,000 customer ids (1,800 known, 1,600 of them
subscribed from day 10, 200 unknown), six event names (five metered, one not), 1 % of values
not numeric, 0.1 % flagged late, into the month partitions. Then it requests, in-process
through Django's test client as a logged-in superuser (the whole admin page: queries and
template), p50 / max over --runs, with the CPU time of this process and the time in the
database per page:

the list (newest first), each status filter, status filters matching nothing in a list
narrowed to one event name (the whole window read), a status filter on one customer, a
customer search (a customer with ~1/2,000 of the events) and a search for an unknown id; then
the in-run baselines (Django's own action checkbox; a filter matching nothing, no window).
Target: each ≤ 300 ms on 20 M events. The figures, the event count and the machine go in
docs/performance.md.
"""

import argparse
import os
import statistics
import time

import scratch
from scratch import drop_database, local_only, machine, recreate_database, time_limit

NAMES = ["api_call", "llm_tokens", "credits_used", "storage", "seats", "page_view"]


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page")
    parser.add_argument("--time-limit", type=int, default=900, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database as is")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_debugger"
        ),
    )
    return parser.parse_args()


def setup_django(database_url: str) -> None:
    """scratch.setup_django, with the admin pages reachable by the test client."""
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DEBUG"] = "off"
    scratch.setup_django(database_url)


def load(events: int) -> None:
    """Catalog, customers and subscriptions through the ORM; events generated in SQL."""
    from datetime import UTC, date, datetime

    from django.db import connection

    from catalog.services import meter_create, plan_create
    from customers.models import Customer, Subscription, SubscriptionPhase
    from metering.partitions import partition_create

    # The months' partitions first, as production has them (metering.partitions): the events
    # land in January and February 2026, not in the default partition.
    for month in (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)):
        partition_create(month=month)
    for name in NAMES[:5]:
        aggregation = "count" if name == "api_call" else "sum"
        meter_create(
            code=name.replace("_", "-"),
            name=name,
            event_name=name,
            aggregation=aggregation,
            field="" if aggregation == "count" else "n",
        )
    plan = plan_create(code="pro", name="Pro", currency="USD", interval="month", charges=[])
    start = datetime(2026, 1, 11, tzinfo=UTC)
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"cust-{index:05d}", name=f"Customer {index}", currency="USD")
        for index in range(1800)
    )
    subscriptions = Subscription.objects.bulk_create(
        Subscription(
            customer=customer,
            plan=plan,
            status="active",
            anchor="anniversary",
            started_at=start,
            current_period_start=start,
            current_period_end=datetime(2026, 2, 11, tzinfo=UTC),
        )
        for customer in customers[:1600]
    )
    SubscriptionPhase.objects.bulk_create(
        SubscriptionPhase(
            subscription=subscription,
            plan=plan,
            starts_at=start,
            reason="start",
            cycle_anchor_at=start,
        )
        for subscription in subscriptions
    )
    names = "ARRAY[" + ", ".join(f"'{name}'" for name in NAMES) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_event (event_id, event_name, external_customer_id, timestamp, "
            "properties, received_at, is_late) "
            f"SELECT 'e' || i, ({names})[1 + (i * 7) %% 6], "
            "'cust-' || lpad(((i * 13) %% 2000)::text, 5, '0'), "
            "timestamptz '2026-01-01' + (i::float8 / %s) * interval '60 days', "
            'CASE WHEN i %% 100 = 0 THEN \'{"n": "lots"}\'::jsonb '
            "ELSE jsonb_build_object('n', i %% 17) END, "
            "timestamptz '2026-01-01' + (i::float8 / %s) * interval '60 days' + interval '1 s', "
            "i %% 1000 = 0 "
            "FROM generate_series(1, %s) AS i",
            [events, events, events],
        )
        cursor.execute("VACUUM ANALYZE")


def timings(client, url: str, runs: int) -> dict:
    """p50 / max of the page's wall time, and of its CPU time in this process (Django: queries
    sent, rows read, template rendered) and its time in the database (the queries' durations):
    steadier than wall time on a shared machine."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up, not counted
    assert response.status_code == 200, (url, response.status_code)
    walls, cpus, databases = [], [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            cpus.append((time.process_time() - cpu) * 1000)
            walls.append((time.perf_counter() - started) * 1000)
        databases.append(sum(float(query["time"]) for query in queries.captured_queries) * 1000)
    return {
        "p50": statistics.median(walls),
        "max": max(walls),
        "cpu": statistics.median(cpus),
        "db": statistics.median(databases),
        "queries": len(queries.captured_queries),
        "rows": response.content.count(b'class="field-status"'),
        "window": b"metering-status-window" in response.content,
    }


def show(label: str, figures: dict) -> None:
    print(
        f"  {label:<50} p50 {figures['p50']:7.0f} ms  max {figures['max']:7.0f} ms  "
        f"cpu {figures['cpu']:5.0f} ms  db {figures['db']:6.0f} ms ({figures['queries']} q)  "
        f"{figures['rows']} rows{'  [window]' if figures['window'] else ''}"
    )


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    print(f"machine: {machine()}")
    if not args.reuse:
        recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    try:
        call_command("migrate", verbosity=0)
        if not args.reuse:
            started = time.perf_counter()
            load(args.events)
            print(
                f"load: {args.events:,} events (SQL, not the benchmark): "
                f"{time.perf_counter() - started:.0f} s"
            )
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
        base = "/admin/metering/event/"
        pages = [("list, newest first", base)]
        pages += [
            (f"status: {status}", f"{base}?status={status}")
            for status in (
                "counted",
                "no_meter",
                "not_counted",
                "unknown_customer",
                "no_subscription",
                "late",
            )
        ]
        pages += [
            # Filters matching nothing in a list of millions: the worst case, the whole
            # window read (api_call has a meter counting every one; page_view has none).
            (
                "status: no_meter among api_call (none match)",
                f"{base}?status=no_meter&event_name=api_call",
            ),
            (
                "status: not_counted among api_call (none match)",
                f"{base}?status=not_counted&event_name=api_call",
            ),
            (
                "status: counted among page_view (none match)",
                f"{base}?status=counted&event_name=page_view",
            ),
            (
                "status: unknown_customer, one known customer",
                f"{base}?status=unknown_customer&q=cust-00042",
            ),
            ("search: a customer (~1/2,000 of the events)", f"{base}?q=cust-00042"),
            ("search: an unknown id", f"{base}?q=nobody"),
        ]
        print(f"\nAdmin event debugger, {args.events:,} events, p50 / max of {args.runs}:")
        for label, url in pages:
            show(label, timings(client, url, args.runs))

        from django.contrib.admin import ModelAdmin

        from metering.admin import EventAdmin

        print("\nIn-run baselines (what the changes replaced):")
        shipped = EventAdmin.action_checkbox
        EventAdmin.action_checkbox = ModelAdmin.action_checkbox
        show("list, Django's own action checkbox", timings(client, base, args.runs))
        EventAdmin.action_checkbox = shipped
        window = EventAdmin.status_window
        EventAdmin.status_window = args.events + 1  # no window: the whole table is searched
        show(
            "status: no_meter among api_call, no window",
            timings(client, f"{base}?status=no_meter&event_name=api_call", 1),
        )
        EventAdmin.status_window = window
        print(f"\nmachine at the end: {machine()}")
        print("target: each <= 300 ms on 20 M events")
    finally:
        connections.close_all()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
