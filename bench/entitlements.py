"""The entitlement check and the wallet's ongoing balance through the API, with 1 M events in
the customer's current period, beside a plain SQL aggregate of the same rows.

    .venv/bin/python bench/entitlements.py [--events 1000000] [--runs 200]

One command, a few minutes, bounded by --time-limit (default 900 s); it only talks to
127.0.0.1. It creates a scratch database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tally_bench_entitlements), migrates it and bulk-loads
(COPY, not timed): one customer "big" on a monthly plan (a count meter priced per unit, and a
metered feature "calls" on it with a hard limit) whose current period — it started 20 days
ago, so "now" is inside it — holds --events events, plus --background events of 1,000 other
customers; the usage rollups are built (as the every-minute task keeps them), and the customer
holds a wallet grant. Then it times, through the API (Django's test client: URL routing, API
key authentication, throttling, serializers, JSON; no network), p50/p99 over --runs requests:

1. GET /api/v1/customers/big/entitlements/calls   (target p99 ≤ 20 ms)
2. GET /api/v1/customers/big/wallet                (ongoing balance; target p99 ≤ 50 ms)
3. GET /api/v1/customers/big/upcoming-invoice      (what the ongoing balance subtracts)
4. the in-run baselines: one plain SQL count(*) over the same rows; GET /api/v1/customers/big
   (authentication, routing, one lookup: the floor of any API answer on this machine now);
   the entitlement selector in-process (no HTTP), and metering's usage read alone in it;

then again once an event was accepted through POST /api/v1/events a moment before (its hour
dirty: the rollups are not refreshed), checking that the entitlement's usage counts it.
Figures and machine go in docs/performance.md.
"""

import argparse
import io
import json
import os
import time
from datetime import datetime, timedelta

from scratch import (
    copy_events,
    drop_database,
    local_only,
    machine,
    recreate_database,
    setup_django,
    time_limit,
    timings,
    vacuum_analyze,
)


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="in the big period")
    parser.add_argument("--background", type=int, default=1_000_000, help="other customers")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--time-limit", type=int, default=900, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_entitlements"
        ),
    )
    return parser.parse_args()


# --- the data (not timed) ------------------------------------------------------------------


def load(events: int, background: int, now: datetime):
    from catalog.services import meter_create, plan_create
    from catalog.services.features import feature_create
    from customers.models import Customer, Subscription, SubscriptionPhase
    from customers.services.wallets import wallet_credit
    from rating.periods import add_interval

    period_start = (now - timedelta(days=20)).replace(microsecond=0)
    period_end = add_interval(period_start, interval="month")
    calls = meter_create(
        code="api_calls", name="API calls", event_name="api_call", aggregation="count"
    )
    feature_create(code="calls", name="API calls", type="metered", meter=calls)
    plan = plan_create(
        code="pro",
        name="Pro",
        currency="USD",
        interval="month",
        base_amount="29.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.001"}],
        features=[{"feature": "calls", "limit": "5000000", "hard": True, "alerts": [80, 100]}],
    )
    customer = Customer.objects.create(external_id="big", name="Big customer", currency="USD")
    subscription = Subscription.objects.create(
        customer=customer,
        plan=plan,
        status="active",
        anchor="anniversary",
        started_at=period_start,
        current_period_start=period_start,
        current_period_end=period_end,
    )
    SubscriptionPhase.objects.create(
        subscription=subscription,
        plan=plan,
        starts_at=period_start,
        reason="start",
        cycle_anchor_at=period_start,
    )
    wallet_credit(
        customer=customer,
        currency="USD",
        amount="5000.00",
        reason="bench",
        source_key="bench",
        at=period_start,
    )
    last = now - timedelta(minutes=2)
    span = (last - period_start).total_seconds()
    buffer = io.StringIO()
    received = last.isoformat()
    for index in range(events):
        moment = period_start + timedelta(seconds=span * index / events)
        buffer.write(f"a{index}\tapi_call\tbig\t{moment.isoformat()}\t{{}}\t{received}\tf\n")
    for index in range(background):
        moment = period_start + timedelta(seconds=span * index / max(background, 1))
        buffer.write(
            f"b{index}\tapi_call\tother-{index % 1000:04d}\t{moment.isoformat()}\t{{}}\t"
            f"{received}\tf\n"
        )
    copy_events(buffer.getvalue())
    vacuum_analyze()
    return calls, period_start, period_end


# --- timing ----------------------------------------------------------------------------


def row(label: str, figures: tuple) -> None:
    p50, p99, result = figures
    print(f"  {label:<46} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   {result}")


def reads(args, client, period_start, period_end, label: str) -> None:
    from django.db import connection

    def get(url, *fields):
        def call():
            response = client.get(url)
            assert response.status_code == 200, response.content
            body = response.json()
            return {field: body[field] for field in fields}

        return call

    def raw_sql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM metering_event WHERE external_customer_id = 'big' "
                "AND event_name = 'api_call' AND timestamp >= %s AND timestamp < %s",
                [period_start, period_end],
            )
            return cursor.fetchone()[0]

    def in_process():
        from django.utils import timezone

        from metering.selectors.entitlements import entitlement_check

        return entitlement_check(external_id="big", code="calls", at=timezone.now()).usage

    def usage_only():
        from catalog.models import Meter
        from metering.selectors import usage_for_period

        meter = Meter.objects.get(code="api_calls")
        return usage_for_period(
            meter=meter, external_customer_id="big", start=period_start, end=period_end
        ).quantity

    print(f"\n{label}")
    row("usage_for_period alone (metering's read)", timings(usage_only, args.runs))
    floor = get("/api/v1/customers/big", "external_id")
    row("GET /api/v1/customers/big (the API's floor)", timings(floor, args.runs))
    row("entitlement_check in-process (no HTTP)", timings(in_process, args.runs))
    entitlement = get(
        "/api/v1/customers/big/entitlements/calls", "has_access", "usage", "remaining"
    )
    row("GET …/entitlements/calls", timings(entitlement, args.runs))
    wallet = get("/api/v1/customers/big/wallet", "balance", "ongoing_balance")
    row("GET …/wallet (ongoing balance)", timings(wallet, args.runs))
    upcoming = get("/api/v1/customers/big/upcoming-invoice", "amount_due")
    row("GET …/upcoming-invoice", timings(upcoming, max(args.runs // 4, 10)))
    row("plain SQL count(*), same rows", timings(raw_sql, max(args.runs // 10, 5)))


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    os.environ.setdefault("DEBUG", "false")  # no query log: as in production
    print(f"machine: {machine()}")
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from billing.services import api_key_create
    from metering.rollups import rollups_rebuild

    try:
        call_command("migrate", verbosity=0)
        now = timezone.now()
        started = time.perf_counter()
        calls, period_start, period_end = load(args.events, args.background, now)
        print(
            f"load: {args.events:,} events in the big period + {args.background:,} others "
            f"(COPY, not the benchmark): {time.perf_counter() - started:.1f} s"
        )
        print(f"PostgreSQL {connection.cursor().connection.info.server_version}")
        started = time.perf_counter()
        written = rollups_rebuild(meter=calls, at=now)
        vacuum_analyze()
        print(f"rollups: {written:,} rows in {time.perf_counter() - started:.1f} s (not timed)")
        _, raw_key = api_key_create(name="bench")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        reads(args, client, period_start, period_end, "1. Through the API, rollups fresh:")

        before = json.loads(client.get("/api/v1/customers/big/entitlements/calls").content)
        response = client.post(
            "/api/v1/events",
            {"event_name": "api_call", "external_customer_id": "big"},
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
        after = json.loads(client.get("/api/v1/customers/big/entitlements/calls").content)
        print(
            f"\nan event accepted a moment ago counts: usage {before['usage']} → {after['usage']}"
        )
        assert int(after["usage"]) == int(before["usage"]) + 1
        reads(args, client, period_start, period_end, "2. The same, its hour now dirty:")
        print(f"\nmachine at the end: {machine()}")
        print("targets: entitlement p99 <= 20 ms, ongoing balance p99 <= 50 ms at 1 M events")
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
