"""`manage.py event_partitions`: the events table's monthly partitions on PostgreSQL
(docs/operations.md, "Event partitions").

Here in billing because it joins two apps: metering owns the partitions, invoices knows which
months may still be billed (metering may not import invoices: docs/architecture.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.errors import AppError
from invoices.selectors import events_unbilled_reason
from metering.partitions import (
    month_parse,
    partition_create,
    partition_name,
    partitioned,
    partitions_detach,
    partitions_ensure,
    partitions_list,
)


class Command(BaseCommand):
    help = (
        "List the events table's partitions (with row counts), create this month's and the "
        "next ones (--ensure) or one month's (--create YYYY-MM, moving its events out of the "
        "default partition), or detach the months before one (--detach-before YYYY-MM, "
        "refused while any of them may still be billed), optionally archiving them to CSV "
        "files (--archive-dir) or dropping them (--drop)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ensure", action="store_true", help="What the schedule does.")
        parser.add_argument("--create", default="", metavar="YYYY-MM")
        parser.add_argument("--detach-before", default="", metavar="YYYY-MM")
        parser.add_argument("--drop", action="store_true", help="Drop what was detached.")
        parser.add_argument(
            "--archive-dir", default="", help="Write each detached month to DIR/<name>.csv."
        )

    def handle(self, *args, ensure, create, detach_before, drop, archive_dir, **options):
        if not partitioned():
            raise CommandError("The events table is not partitioned (PostgreSQL only).")
        if (drop or archive_dir) and not detach_before:
            raise CommandError("--drop and --archive-dir go with --detach-before.")
        try:
            if ensure:
                for name in partitions_ensure(at=timezone.now()):
                    self.stdout.write(f"created {name}")
            if create:
                month = month_parse(create)
                created = partition_create(month=month)
                verb = "created" if created else "already there:"
                self.stdout.write(f"{verb} {partition_name(month)}")
            if detach_before:
                at = timezone.now()
                detached = partitions_detach(
                    before=month_parse(detach_before),
                    hold=lambda start, end: events_unbilled_reason(start=start, end=end, at=at),
                    drop=drop,
                    archive_dir=Path(archive_dir) if archive_dir else None,
                )
                for item in detached:
                    fate = (
                        f"archived to {item.archive}"
                        if item.archive
                        else "dropped"
                        if item.dropped
                        else "kept as a plain table"
                    )
                    self.stdout.write(f"detached {item.name} ({item.rows} events), {fate}")
                if not detached:
                    self.stdout.write("no partition before that month")
        except AppError as error:
            raise CommandError(" ".join(error.messages)) from error
        if not (ensure or create or detach_before):
            for partition in partitions_list(counts=True):
                self.stdout.write(f"{partition.name}\t{partition.rows}")
