"""Finance benchmark: what revenue recognition adds to the cycle close, and the finance reads
(revenue report, receivables aging, streamed CSV exports) over the invoices of one close.

    .venv/bin/python bench/finance.py [--subscriptions 5000]

One command, bounded by --time-limit (default 600 s); it only talks to 127.0.0.1. It builds
the cycle-close benchmark's data (bench/close_cycles.py: N subscriptions on a $29 plan with
three metered charges, events in March 2026) in a scratch database (BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/tally_bench_finance), then times:

1. the close at 2026-04-01 (N invoices of 4 lines, each given its revenue schedules at
   finalization, as in production);
2. in-run baseline: the schedules deleted and written again by the finalization signal's own
   function, for every invoice in one transaction (what finance adds to the close, measured
   alone), then deleted and written again by `revenue_sync` (the `revenue_backfill` command:
   one transaction and row lock per invoice);
3. the revenue report for 12 months, the receivables aging, and the invoices and lines CSV
   exports streamed to nowhere, with the peak Python memory while streaming (tracemalloc).

Figures, machine and load average go in docs/performance.md.
"""

import argparse
import os
import platform
import tracemalloc
from datetime import date

from close_cycles import CLOSE_AT, load, timed
from scratch import (
    database_name,
    drop_database,
    local_only,
    recreate_database,
    setup_django,
    time_limit,
)


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=5_000)
    parser.add_argument("--events-per-meter", type=int, default=2)
    parser.add_argument("--time-limit", type=int, default=600, help="whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tally_bench_finance"
        ),
    )
    return parser.parse_args()


def streamed(kind: str):
    """Stream one export of the whole of April 2026 to nowhere: (rows, bytes, peak MB)."""
    from finance.exports import export_response
    from finance.ranges import DateRange

    tracemalloc.start()
    response = export_response(kind=kind, dates=DateRange(date(2026, 4, 1), date(2026, 4, 30)))
    rows = size = 0
    for chunk in response.streaming_content:
        rows += 1
        size += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows - 1, size, peak / 1e6


def write_in_one_transaction() -> None:
    from django.db import transaction

    from finance.services import revenue_schedules_for_invoice
    from invoices.models import Invoice

    with transaction.atomic():
        for invoice in Invoice.objects.filter(issued_at__isnull=False).order_by("pk"):
            revenue_schedules_for_invoice(invoice=invoice)


def main() -> None:
    args = options()
    local_only(args.database_url)
    time_limit(args.time_limit)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    from finance.models import RevenueEntry, RevenueSchedule
    from finance.selectors import receivables_aging, revenue_report
    from finance.services import revenue_sync
    from invoices.services import cycles_close

    try:
        call_command("migrate", verbosity=0)
        timed(
            f"load {args.subscriptions} subscriptions (not the benchmark)",
            lambda: load(args.subscriptions, args.events_per_meter),
        )
        _, close = timed("cycle close, with revenue schedules", lambda: cycles_close(at=CLOSE_AT))
        schedules = RevenueSchedule.objects.count()
        entries = RevenueEntry.objects.count()
        RevenueSchedule.objects.all().delete()
        _, signal_path = timed("the finalization's schedules alone", write_in_one_transaction)
        RevenueSchedule.objects.all().delete()
        sync, rewrite = timed("revenue_sync: every schedule written again", revenue_sync)
        report, report_seconds = timed(
            "revenue report, 12 months",
            lambda: revenue_report(first_month=date(2026, 1, 1), last_month=date(2026, 12, 1)),
        )
        aging, aging_seconds = timed(
            "receivables aging", lambda: receivables_aging(as_of=date(2026, 5, 15))
        )
        (invoice_rows, invoice_bytes, invoice_peak), invoices_seconds = timed(
            "invoices.csv", lambda: streamed("invoices")
        )
        (line_rows, line_bytes, line_peak), lines_seconds = timed(
            "lines.csv", lambda: streamed("lines")
        )

        print(
            f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"PostgreSQL via {database_name(args.database_url)}, load average "
            f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}"
        )
        print(f"subscriptions / invoices   {args.subscriptions} / {invoice_rows}")
        print(f"schedules / entries        {schedules} / {entries} ({sync.lines} rewritten)")
        print(f"close (with schedules)     {close:.1f} s ({args.subscriptions / close:.0f}/s)")
        print(
            f"schedules alone            {signal_path:.1f} s "
            f"({signal_path / close * 100:.0f}% of the close's time)"
        )
        print(f"revenue_sync (backfill)    {rewrite:.1f} s ({sync.lines / rewrite:.0f} lines/s)")
        march, april = report[0].months[2:4]
        print(
            f"revenue report, 12 months  {report_seconds * 1000:.0f} ms (March recognised "
            f"{march.recognised}, unbilled {march.unbilled}; April billed {april.billed})"
        )
        owed = aging.totals[0].total if aging.totals else 0
        print(f"aging                      {aging_seconds * 1000:.0f} ms (owed {owed:.2f})")
        print(
            f"invoices.csv               {invoices_seconds:.1f} s, {invoice_bytes / 1e6:.1f} MB, "
            f"peak Python memory {invoice_peak:.1f} MB"
        )
        print(
            f"lines.csv                  {lines_seconds:.1f} s, {line_rows} rows, "
            f"{line_bytes / 1e6:.1f} MB, peak Python memory {line_peak:.1f} MB"
        )
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
