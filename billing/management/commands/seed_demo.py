"""`manage.py seed_demo`: load the demo catalog, customers, usage and invoices (idempotent)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from catalog import demo as catalog_demo
from customers import demo as customers_demo
from invoices import demo as invoices_demo
from metering import demo as metering_demo


class Command(BaseCommand):
    help = "Load demo data: the worked-example plans, customers on them, usage and invoices."

    def handle(self, *args, **options):
        at = timezone.now()
        for step in (catalog_demo, customers_demo, metering_demo, invoices_demo):
            summary = step.seed(at=at)
            if summary:
                self.stdout.write(summary)
