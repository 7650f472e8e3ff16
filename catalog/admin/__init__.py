"""Catalog admin: meters, the plan builder (plans with charges, tiers and feature grants),
features, charges to look up."""

from catalog.admin.charges import ChargeAdmin
from catalog.admin.features import FeatureAdmin
from catalog.admin.meters import MeterAdmin
from catalog.admin.plans import PlanAdmin

__all__ = ["ChargeAdmin", "FeatureAdmin", "MeterAdmin", "PlanAdmin"]
