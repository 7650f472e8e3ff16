"""Catalog admin: meters, the plan builder (plans with charges and tiers), charges to look up."""

from catalog.admin.charges import ChargeAdmin
from catalog.admin.meters import MeterAdmin
from catalog.admin.plans import PlanAdmin

__all__ = ["ChargeAdmin", "MeterAdmin", "PlanAdmin"]
