"""`manage.py clickhouse_events --migrate | --sync [--forever] | --backfill |
--rebuild-rollups [--meter CODE] | --check-rollups`: the ClickHouse event store and its hourly
rollups (EVENTS_BACKEND=clickhouse; docs/operations.md, "Running with ClickHouse")."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Meter
from metering.clickhouse import clickhouse_backfill, clickhouse_migrate, clickhouse_sync
from metering.clickhouse_rollups import (
    built_definition,
    clickhouse_rollups_check,
    clickhouse_rollups_rebuild,
)
from metering.rollups import ROLLED_UP


class Command(BaseCommand):
    help = (
        "--migrate: create ClickHouse's database and tables (on every shard of "
        "CLICKHOUSE_CLUSTER). --sync: write the outbox's events to ClickHouse (--forever: "
        "every --interval seconds, for a dedicated process). --backfill: write every stored "
        "event (switching an existing install to ClickHouse). --rebuild-rollups: compute the "
        "hourly rollups of every meter not built under its definition (or of --meter, "
        "always) and read them from then on. --check-rollups: compare them with the events. "
        "All are idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--migrate", action="store_true")
        parser.add_argument("--sync", action="store_true")
        parser.add_argument("--forever", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--backfill", action="store_true")
        parser.add_argument("--rebuild-rollups", action="store_true")
        parser.add_argument("--meter", default="", help="with --rebuild-rollups: this meter")
        parser.add_argument("--check-rollups", action="store_true")

    def handle(self, *args, **options):
        actions = ("migrate", "sync", "backfill", "rebuild_rollups", "check_rollups")
        if not any(options[action] for action in actions):
            raise CommandError(
                "Say what to do: --migrate, --sync, --backfill, --rebuild-rollups or "
                "--check-rollups."
            )
        if options["interval"] < 0.1 or options["interval"] > 3600:
            raise CommandError("--interval is between 0.1 and 3600 seconds.")
        if (
            any(options[action] for action in actions[1:])
            and settings.EVENTS_BACKEND != "clickhouse"
        ):
            raise CommandError("EVENTS_BACKEND is not clickhouse: nothing is queued for it.")
        if options["migrate"]:
            for created in clickhouse_migrate():
                self.stdout.write(f"ready: {created}")
        if options["backfill"]:
            self.stdout.write(f"{clickhouse_backfill()} events written to ClickHouse")
        if options["rebuild_rollups"]:
            self._rebuild(options["meter"])
        if options["check_rollups"]:
            mismatches = clickhouse_rollups_check()
            for found in mismatches:
                self.stdout.write(
                    f"mismatch: {found.meter} {found.external_customer_id} "
                    f"{found.hour.isoformat()} group {found.group!r}: "
                    f"stored {found.stored}, events {found.raw}"
                )
            if mismatches:
                raise CommandError(f"{len(mismatches)} ClickHouse rollup rows differ.")
            self.stdout.write("ClickHouse rollups agree with the events.")
        while options["sync"]:
            result = clickhouse_sync()
            if result.written or not options["forever"]:
                self.stdout.write(result.summary())
            if not options["forever"]:
                break
            time.sleep(options["interval"])

    def _rebuild(self, code: str) -> None:
        meters = Meter.objects.filter(aggregation__in=ROLLED_UP).order_by("code")
        if code:
            meters = meters.filter(code=code)
            if not meters:
                raise CommandError(f"No meter {code!r} with rollups (unique_count has none).")
        for meter in meters:
            if code or built_definition(meter=meter) is None:
                clickhouse_rollups_rebuild(meter=meter, at=timezone.now())
                self.stdout.write(f"rebuilt: {meter.code}")
