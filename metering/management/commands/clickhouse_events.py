"""`manage.py clickhouse_events --migrate | --sync [--forever] | --backfill`: the ClickHouse
event store (EVENTS_BACKEND=clickhouse; docs/operations.md, "Running with ClickHouse")."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metering.clickhouse import clickhouse_backfill, clickhouse_migrate, clickhouse_sync


class Command(BaseCommand):
    help = (
        "--migrate: create ClickHouse's database and tables (on every shard of "
        "CLICKHOUSE_CLUSTER). --sync: write the outbox's events to ClickHouse (--forever: "
        "every --interval seconds, for a dedicated process). --backfill: write every stored "
        "event (switching an existing install to ClickHouse). All are idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--migrate", action="store_true")
        parser.add_argument("--sync", action="store_true")
        parser.add_argument("--forever", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--backfill", action="store_true")

    def handle(self, *args, **options):
        if not (options["migrate"] or options["sync"] or options["backfill"]):
            raise CommandError("Say what to do: --migrate, --sync or --backfill.")
        if options["interval"] < 0.1 or options["interval"] > 3600:
            raise CommandError("--interval is between 0.1 and 3600 seconds.")
        if (options["sync"] or options["backfill"]) and settings.EVENTS_BACKEND != "clickhouse":
            raise CommandError("EVENTS_BACKEND is not clickhouse: nothing is queued for it.")
        if options["migrate"]:
            for created in clickhouse_migrate():
                self.stdout.write(f"ready: {created}")
        if options["backfill"]:
            self.stdout.write(f"{clickhouse_backfill()} events written to ClickHouse")
        while options["sync"]:
            result = clickhouse_sync()
            if result.written or not options["forever"]:
                self.stdout.write(result.summary())
            if not options["forever"]:
                break
            time.sleep(options["interval"])
