"""`manage.py close_cycles [--at ISO] [--dry-run] [--workers N | --queue]`: issue every invoice
due at --at (or now)."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.currencies import money_display
from invoices.selectors import cycles_close_preview
from invoices.services import cycles_close


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--at {text!r} is not an ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        raise CommandError(f"--at {text!r} needs a UTC offset, e.g. 2026-04-01T00:00:00Z.")
    return moment.astimezone(UTC)


def _period(invoice) -> str:
    if invoice.period_start is None:
        return ""
    return f"{invoice.period_start:%Y-%m-%d %H:%M} → {invoice.period_end:%Y-%m-%d %H:%M}"


class Command(BaseCommand):
    help = (
        "Close every billing period that ended at or before --at (default now): opening, "
        "plan-change, period and on-demand invoices, drafts in grace, late events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO 8601 moment with offset (default: now).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be invoiced; write nothing."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes sharing the subscriptions (PostgreSQL; default 1).",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help=(
                "Queue the due subscriptions as django-q2 tasks of CLOSE_TASK_BATCH for the "
                "task cluster (every worker on every machine); the rest of the close runs here."
            ),
        )

    def handle(self, *args, **options):
        at = _moment(options["at"]) if options["at"] else timezone.now()
        if options["dry_run"]:
            drafts = cycles_close_preview(at=at)
            for draft in drafts:
                self.stdout.write(
                    f"would invoice {draft.customer.external_id:<20} {draft.kind:<13} "
                    f"{_period(draft):<37} {money_display(draft.total, draft.currency)}"
                )
            self.stdout.write(
                f"Dry run at {at.isoformat()}: {len(drafts)} invoice(s), nothing written."
            )
            return
        if options["workers"] < 1:
            raise CommandError("--workers must be 1 or more.")
        if options["queue"] and options["workers"] > 1:
            raise CommandError("--queue and --workers are alternatives: choose one.")
        report = cycles_close(at=at, workers=options["workers"], queue=options["queue"])
        for invoice in report.created:
            self.stdout.write(
                f"{invoice.number or f'draft #{invoice.pk}':<16} "
                f"{invoice.customer.external_id:<20} {invoice.kind:<13} {_period(invoice):<37} "
                f"{money_display(invoice.total, invoice.currency)}"
            )
        for error in report.errors:
            self.stderr.write(error)
        self.stdout.write(report.summary())
