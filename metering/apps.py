"""The metering app: events in, quantities out."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Metering"

    def ready(self) -> None:
        from metering.expressions import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="metering-sqlite")
