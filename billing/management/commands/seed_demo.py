"""`manage.py seed_demo`: load the demo catalog, customers, usage and invoices (idempotent)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from catalog import demo as catalog_demo
from customers import demo as customers_demo
from invoices import demo as invoices_demo
from metering import demo as metering_demo
from payments import demo as payments_demo


class Command(BaseCommand):
    help = "Load demo data: the worked-example plans, customers on them, usage and invoices."

    def handle(self, *args, **options):
        at = timezone.now()
        steps = (
            catalog_demo.seed,
            customers_demo.seed,
            metering_demo.seed,
            payments_demo.seed_overdue,  # issued in the past: numbered before today's invoices
            invoices_demo.seed,
            payments_demo.seed,
            # After the demo invoices, so they stay as they were: credits, a coupon, a tax rate.
            customers_demo.seed_extras,
        )
        for step in steps:
            summary = step(at=at)
            if summary:
                self.stdout.write(summary)
