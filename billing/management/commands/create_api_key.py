"""`manage.py create_api_key NAME [--scope ingest|read|full]`: prints the new key as the last
word of its output."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import ApiKeyScope
from billing.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key. The key is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            choices=ApiKeyScope.values,
            default=ApiKeyScope.FULL,
            help="ingest: events only; read: GET only; full (default): everything.",
        )

    def handle(self, *args, name: str, scope: str, **options):
        try:
            api_key, raw_key = api_key_create(name=name, scope=scope)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Created API key '{api_key.name}' ({api_key.scope}). "
            f"Store it now, it is shown once: {raw_key}"
        )
