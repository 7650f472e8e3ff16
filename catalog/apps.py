"""The catalog app: meters, plans, charges and tiers, their API and admin plan builder."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from catalog import schema  # noqa: F401  (registers the OpenAPI auth extension)
