"""Catalog actions (the writes): meters, plans and their versions. Import from here."""

from catalog.services.meters import meter_create, meter_update
from catalog.services.plans import plan_create, plan_new_version, plan_update

__all__ = [
    "meter_create",
    "meter_update",
    "plan_create",
    "plan_new_version",
    "plan_update",
]
