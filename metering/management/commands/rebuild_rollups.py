"""`manage.py rebuild_rollups [--meter CODE] [--check]`: rebuild usage rollups from raw events,
or compare them with raw events."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Meter
from metering.rollups import rollups_check, rollups_horizon, rollups_rebuild

SHOWN_MISMATCHES = 50


class Command(BaseCommand):
    help = (
        "Recompute every meter's usage rollups (or one meter's) from the raw events. With "
        "--check, change nothing: compare the rollups with the raw events and exit 1 on any "
        "difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--meter", default="", help="Only this meter (its code).")
        parser.add_argument(
            "--check", action="store_true", help="Compare with raw events instead of rebuilding."
        )
        parser.add_argument(
            "--customer", default="", help="With --check: only this customer's rollups."
        )

    def handle(self, *args, meter: str, check: bool, customer: str, **options):
        meters = Meter.objects.order_by("code")
        if meter:
            meters = meters.filter(code=meter)
            if not meters.exists():
                raise CommandError(f"No meter has the code {meter!r}.")
        if check:
            mismatches = rollups_check(meters=meters, external_customer_id=customer)
            for mismatch in mismatches[:SHOWN_MISMATCHES]:
                self.stdout.write(
                    f"{mismatch.meter} · {mismatch.external_customer_id} · "
                    f"{mismatch.bucket_start.isoformat()} · group {mismatch.group!r}: "
                    f"rollup {mismatch.stored} ≠ raw {mismatch.raw}"
                )
            if mismatches:
                raise CommandError(f"{len(mismatches)} rollup hours differ from the raw events.")
            self.stdout.write("Rollups agree with the raw events.")
            horizon = rollups_horizon()
            self.stdout.write(
                "No hour is sealed yet: every read is raw."
                if horizon is None
                else f"Hours sealed until {horizon:%Y-%m-%d %H:%M} UTC; from then on reads "
                'are raw (docs/scaling.md, "Sealed hours").'
            )
            return
        at = timezone.now()
        for each in meters:
            written = rollups_rebuild(meter=each, at=at)
            self.stdout.write(f"{each.code}: {written} rollup rows")
