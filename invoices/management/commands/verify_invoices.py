"""`manage.py verify_invoices [--since DATE]`: recompute issued invoices from their events."""

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from invoices.services import invoices_verify


class Command(BaseCommand):
    help = (
        "Recompute every issued invoice's usage lines from the raw events and the charge "
        "ledger, independently of the stored figures; report any drift (exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="Only invoices issued on or after this date (YYYY-MM-DD)."
        )

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            try:
                day = datetime.strptime(options["since"], "%Y-%m-%d").date()
            except ValueError:
                raise CommandError(
                    f"--since {options['since']!r} is not a date (YYYY-MM-DD)."
                ) from None
            since = datetime.combine(day, time(), tzinfo=UTC)
        report = invoices_verify(at=timezone.now(), since=since)
        for invoice, drift in report.drifted:
            for row in drift:
                self.stderr.write(
                    f"{invoice.number}: line {row['line']} ({row['description']}) expected "
                    f"{row['expected_amount']} for {row['expected_quantity']}, stored "
                    f"{row['stored_amount']} for {row['stored_quantity']}, events "
                    f"{row['window_start']} → {row['window_end']}"
                    + (f", {row['late_events']} arrived late" if row["late_events"] else "")
                )
        self.stdout.write(report.summary())
        if report.drifted:
            raise SystemExit(1)
