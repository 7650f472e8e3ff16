"""Tally's pure pricing engine: charges, rating, money rounding and billing periods.

Standard library only (no Django, no I/O): services turn ORM rows into these dataclasses and
persist what comes back. Everything public is importable from `rating` directly.
"""

from rating.charges import ChargeSpec, PricingModel, Tier
from rating.errors import ChargeSpecError, RatingError
from rating.money import decimal_string, round_money, to_decimal
from rating.periods import (
    Anchor,
    Interval,
    Period,
    add_interval,
    annualized,
    billing_period,
    boundary,
    calendar_floor,
    period_containing,
    prorate,
    seconds_between,
)
from rating.pricing import (
    PRICERS,
    allowances_share,
    breakdown_difference,
    rate,
    without_minimum,
)
from rating.results import BreakdownLine, Rating
from rating.validation import validate_charge

__all__ = [
    "PRICERS",
    "Anchor",
    "BreakdownLine",
    "ChargeSpec",
    "ChargeSpecError",
    "Interval",
    "Period",
    "PricingModel",
    "Rating",
    "RatingError",
    "Tier",
    "add_interval",
    "annualized",
    "billing_period",
    "boundary",
    "calendar_floor",
    "decimal_string",
    "period_containing",
    "prorate",
    "allowances_share",
    "breakdown_difference",
    "rate",
    "without_minimum",
    "round_money",
    "seconds_between",
    "to_decimal",
    "validate_charge",
]
