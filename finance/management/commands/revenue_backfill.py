"""Write the revenue schedules not written yet: invoices issued before finance existed, credit
notes, voids (idempotent: a second run writes nothing)."""

from django.core.management.base import BaseCommand

from finance.services import revenue_sync


class Command(BaseCommand):
    help = (
        "Give every issued invoice line, credit note line and void its revenue schedule "
        "(docs/operations.md, 'Finance'). Safe to re-run."
    )

    def handle(self, *args, **options):
        self.stdout.write(str(revenue_sync()))
