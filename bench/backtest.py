"""Backtest benchmark: 1,000 customers × 3 monthly periods × 3 charges over 3M events, on
PostgreSQL.

    .venv/bin/python bench/backtest.py [--customers 1000] [--events 3000000]

One command, bounded by --time-limit (default 900 s); it only talks to 127.0.0.1. It creates a
scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_backtest), migrates it, bulk-loads (not timed)
3 meters (sum, count, max), plan "pro" v1 ($29 in arrears + a graduated, a per-unit and a
per-unit-with-minimum charge), N customers subscribed on Jan 1, 2026 (monthly) and the events
spread over Jan–Mar (COPY), and bills the three periods with the production cycle close (not
timed). Then it times, through the production services (the task's service run inline):

1. a backtest of "pro" v1 itself: every customer's would-be must equal what the cycle close
   invoiced (the check: the backtest and the builder price alike);
2. a backtest of "pro" v2, a draft with cheaper calls and no minimum.

Target: each ≤ 30 s for 1,000 customers × 3 periods × 3 charges over 3M events. The figures and
the machine go in docs/performance.md.
"""

import argparse
import io
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import drop_database, local_only, recreate_database, setup_django, time_limit  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
MONTHS = [datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3, 4)]


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--time-limit", type=int, default=900, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_backtest"
        ),
    )
    return parser.parse_args()


def load(customers_wanted: int, events_wanted: int) -> None:
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
            {
                "meter": "api_calls",
                "model": "graduated",
                "free_units": "50",
                "tiers": [
                    {"up_to": "200", "unit_amount": "0.02"},
                    {"up_to": None, "unit_amount": "0.01"},
                ],
            },
            {
                "meter": "storage_gb",
                "model": "per_unit",
                "unit_amount": "1.80",
                "min_amount": "5.00",
            },
        ],
    )
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"bench-{index:06d}", name=f"Bench customer {index}", currency="USD")
        for index in range(customers_wanted)
    )
    rows = Subscription.objects.bulk_create(
        Subscription(
            customer=customer,
            plan=plan,
            status="active",
            anchor="anniversary",
            started_at=START,
            current_period_start=START,
            current_period_end=MONTHS[1],
        )
        for customer in customers
    )
    SubscriptionPhase.objects.bulk_create(
        SubscriptionPhase(
            subscription=subscription,
            plan=plan,
            starts_at=START,
            reason="start",
            cycle_anchor_at=START,
        )
        for subscription in rows
    )
    copy_events(customers, events_wanted)


def copy_events(customers, events_wanted: int) -> None:
    """events_wanted events, spread evenly over customers, the three meters and three months,
    written by COPY in chunks."""
    from django.db import connection

    per_customer = events_wanted // len(customers)
    columns = (
        "event_id, event_name, external_customer_id, timestamp, properties, received_at, is_late"
    )
    seconds = int((END - START).total_seconds())
    with connection.cursor() as cursor:
        raw = cursor.connection
        for offset in range(0, len(customers), 50):
            buffer = io.StringIO()
            for customer_index, customer in enumerate(customers[offset : offset + 50]):
                external_id = customer.external_id
                for index in range(per_customer):
                    step = (index * 7919 + customer_index * 104729) % seconds
                    moment = (START + timedelta(seconds=step)).isoformat()
                    kind = index % 3
                    if kind == 0:
                        body = f"credits_used\t{external_id}\t{moment}\t" + '{"n": 3}'
                    elif kind == 1:
                        body = f"api_call\t{external_id}\t{moment}\t{{}}"
                    else:
                        body = f'storage\t{external_id}\t{moment}\t{{"gb": {1 + index % 7}}}'
                    buffer.write(f"e{index}\t{body}\t{END.isoformat()}\tf\n")
            with raw.cursor().copy(f"COPY metering_event ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        cursor.execute("ANALYZE")


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.1f} s", flush=True)
    return result, elapsed


def run_backtest(version: int):
    from lab.services import backtest_create, backtest_run

    # Saving queues the task (ORM broker, no cluster here): it is run inline, as a worker would.
    backtest = backtest_create(
        plan_code="pro",
        version=version,
        period_from=START,
        period_to=END,
        requested_by="bench",
        at=END + timedelta(days=1),
    )
    backtest = backtest_run(backtest_id=backtest.pk, at=END + timedelta(days=1))
    assert backtest.status == "succeeded", (backtest.status, backtest.error)
    return backtest


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db.models import Sum

    from catalog.selectors import plan_get
    from catalog.services import plan_update
    from invoices.models import Invoice
    from invoices.services import cycles_close

    try:
        call_command("migrate", verbosity=0)
        timed(
            f"load {args.customers} customers, {args.events} events (not the benchmark)",
            lambda: load(args.customers, args.events),
        )
        for month in MONTHS[1:]:
            timed(
                f"cycle close at {month:%Y-%m-%d} (not the benchmark)",
                lambda month=month: cycles_close(at=month + timedelta(minutes=5)),
            )
        itself, seconds_itself = timed(
            "backtest of pro v1 (the plan itself)", lambda: run_backtest(1)
        )
        invoiced = {
            row["customer__external_id"]: row["total"]
            for row in Invoice.objects.filter(period_start__gte=START, period_end__lte=END)
            .values("customer__external_id")
            .annotate(total=Sum("total"))
        }
        mismatched = [
            row.customer.external_id
            for row in itself.rows.select_related("customer")
            if row.would_be != row.billed or row.billed != invoiced[row.customer.external_id]
        ]
        plan_update(
            plan=plan_get(code="pro"),
            charges=[
                {"meter": "credits", "model": "per_unit", "unit_amount": "0.20"},
                {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.005"},
                {"meter": "storage_gb", "model": "per_unit", "unit_amount": "1.80"},
            ],
        )
        draft, seconds_draft = timed(
            "backtest of pro v2 (a cheaper draft)", lambda: run_backtest(2)
        )

        print(
            f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            "PostgreSQL"
        )
        print(f"customers × periods        {args.customers} × 3 = {itself.periods} periods")
        print(f"invoiced (periods' close)  {sum(invoiced.values(), Decimal(0))}")
        print(f"backtest v1 total          {itself.would_be_total} (billed {itself.billed_total})")
        print(f"customers not reproduced   {len(mismatched)} {mismatched[:5]}")
        print(f"backtest v2 difference     {draft.difference_total}")
        for label, seconds in (("v1", seconds_itself), ("v2", seconds_draft)):
            verdict = "met" if seconds <= 30 else "MISSED"
            print(f"backtest {label}                {seconds:.1f} s (target ≤ 30 s: {verdict})")
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
