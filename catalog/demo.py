"""Demo data for the catalog app, loaded by `manage.py seed_demo` (idempotent).

The meters and the plans of worked examples in docs/api.md, by the codes other apps' demo data and
scenario tests use. An existing code is left as it is, so re-running never duplicates or edits.
"""

from datetime import datetime

from catalog.models import Aggregation, BaseTiming, Interval, Meter, Plan
from catalog.services import meter_create, plan_create

METERS = [
    {
        "code": "credits",
        "name": "Credits used",
        "event_name": "credits_used",
        "aggregation": Aggregation.SUM,
        "field": "credits",
        "unit": "credit",
        "description": "Sum of the credits property of credits_used events.",
    },
    {
        "code": "api_calls",
        "name": "API calls",
        "event_name": "api_call",
        "aggregation": Aggregation.COUNT,
        "unit": "call",
        "description": "One per api_call event.",
    },
    {
        "code": "storage_gb",
        "name": "Storage (GB)",
        "event_name": "storage",
        "aggregation": Aggregation.MAX,
        "field": "gb",
        "unit": "GB",
        "description": "Peak GB stored in the period (max of the gb property of storage events).",
    },
    {
        "code": "tokens",
        "name": "LLM tokens",
        "event_name": "llm_tokens",
        "aggregation": Aggregation.SUM,
        "field": "tokens",
        "unit": "token",
        "description": "Sum of the tokens property of llm_tokens events.",
    },
]

PLANS = [
    {
        "code": "free-tier",
        "name": "Free tier",
        "description": "Ten credits a month included, then $1.00 per credit.",
        "currency": "USD",
        "interval": Interval.MONTH,
        "base_amount": "0",
        "charges": [
            {
                "meter": "credits",
                "description": "Credits",
                "model": "per_unit",
                "unit_amount": "1.00",
                "free_units": "10",
            }
        ],
    },
    {
        "code": "growth",
        "name": "Growth (tiered API)",
        "description": "API calls priced in graduated tiers: the more calls, the cheaper each.",
        "currency": "USD",
        "interval": Interval.MONTH,
        "base_amount": "0",
        "charges": [
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "0.80"},
                    {"up_to": "2000", "unit_amount": "0.60"},
                    {"up_to": None, "unit_amount": "0.40"},
                ],
            }
        ],
    },
    {
        "code": "credit-pack",
        "name": "Credit packs",
        "description": "Credits in packs of 1,000 for $800.00; a started pack is paid in full.",
        "currency": "USD",
        "interval": Interval.MONTH,
        "base_amount": "0",
        "charges": [
            {
                "meter": "credits",
                "description": "Credit packs (1,000 credits)",
                "model": "package",
                "package_size": "1000",
                "package_amount": "800.00",
            }
        ],
    },
    {
        "code": "scale",
        "name": "Scale",
        "description": "$199.00 a month in advance, then API calls at $1.50 for the first 1,000 "
        "and $1.35 beyond.",
        "currency": "USD",
        "interval": Interval.MONTH,
        "base_amount": "199.00",
        "base_timing": BaseTiming.IN_ADVANCE,
        "charges": [
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "1.50"},
                    {"up_to": None, "unit_amount": "1.35"},
                ],
            }
        ],
    },
    {
        "code": "pro",
        "name": "Pro",
        "description": "$29.00 a month in arrears, plus credits, API calls and storage per unit.",
        "currency": "USD",
        "interval": Interval.MONTH,
        "base_amount": "29.00",
        "base_timing": BaseTiming.IN_ARREARS,
        "charges": [
            {
                "meter": "credits",
                "description": "Credits",
                "model": "per_unit",
                "unit_amount": "0.25",
            },
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "per_unit",
                "unit_amount": "0.01",
            },
            {
                "meter": "storage_gb",
                "description": "Storage (GB, peak)",
                "model": "per_unit",
                "unit_amount": "1.80",
            },
        ],
    },
    {
        "code": "hourly-demo",
        "name": "Hourly demo (watch a cycle)",
        "description": "A one-hour billing period, so an operator can watch a whole cycle close.",
        "currency": "USD",
        "interval": Interval.HOUR,
        "base_amount": "1.00",
        "base_timing": BaseTiming.IN_ARREARS,
        "charges": [
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "per_unit",
                "unit_amount": "0.05",
            }
        ],
    },
]


def seed(*, at: datetime) -> str:
    """Create the demo meters and plans that do not exist yet; say what was created."""
    new_meters = [
        meter_create(**fields).code
        for fields in METERS
        if not Meter.objects.filter(code=fields["code"]).exists()
    ]
    new_plans = [
        plan_create(**fields).code
        for fields in PLANS
        if not Plan.objects.filter(code=fields["code"]).exists()
    ]
    return (
        f"Catalog: {len(new_meters)} meter(s) created ({', '.join(new_meters) or 'none new'}), "
        f"{len(new_plans)} plan(s) created ({', '.join(new_plans) or 'none new'})."
    )
