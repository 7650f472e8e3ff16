"""Catalog admin: meters, the plan builder (plans with charges, tiers and feature grants),
features, charges to look up, tax rates and coupons."""

from catalog.admin.charges import ChargeAdmin
from catalog.admin.features import FeatureAdmin
from catalog.admin.finance import CouponAdmin, TaxRateAdmin
from catalog.admin.meters import MeterAdmin
from catalog.admin.plans import PlanAdmin

__all__ = ["ChargeAdmin", "CouponAdmin", "FeatureAdmin", "MeterAdmin", "PlanAdmin", "TaxRateAdmin"]
