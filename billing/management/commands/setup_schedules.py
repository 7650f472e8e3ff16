"""`manage.py setup_schedules`: create or update the django-q2 schedules, idempotently by name."""

from django.core.management.base import BaseCommand

from billing.schedules import schedules_ensure


class Command(BaseCommand):
    help = "Create or update Tally's recurring django-q2 schedules (safe to run repeatedly)."

    def handle(self, *args, **options):
        for name, created in schedules_ensure():
            self.stdout.write(f"{'created' if created else 'updated'} schedule {name}")
