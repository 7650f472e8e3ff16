"""Catalog test helpers: the demo catalog, putting a plan in use, admin plan-builder posts."""

from datetime import UTC, datetime

import pytest

from catalog.demo import seed

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def demo_catalog(db):
    """The meters and worked-example plans of `manage.py seed_demo`."""
    seed(at=SEEDED_AT)


@pytest.fixture
def put_in_use(db):
    """Subscribe a customer to a plan version, which freezes it (needs customers.Subscription)."""

    def subscribe(plan):
        try:
            from tests.factories import SubscriptionFactory
        except ImportError:
            pytest.skip("customers.Subscription is not available yet")
        return SubscriptionFactory(plan=plan)

    return subscribe


def formset_management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def plan_builder_post(
    *, charges: list[dict], grants: list[dict] = (), **plan_fields
) -> dict[str, str]:
    """The POST body of the admin plan page: plan fields, charges and their tier tables, and
    the feature grants."""
    data = {
        "code": "builder",
        "name": "Builder plan",
        "description": "",
        "currency": "USD",
        "interval": "month",
        "interval_count": "1",
        "base_amount": "0",
        "base_timing": "in_advance",
        "setup_amount": "0",
        "trial_days": "0",
        "metadata": "{}",
        **plan_fields,
        **formset_management("charges", len(charges)),
        **formset_management("feature_grants", len(grants)),
    }
    for index, grant in enumerate(grants):
        data.update({f"feature_grants-{index}-{name}": value for name, value in grant.items()})
    for index, charge in enumerate(charges):
        prefix = f"charges-{index}"
        charge = dict(charge)
        tiers = charge.pop("tiers", [])
        fields = {"description": "", "cadence": "in_arrears", "free_units": "0", **charge}
        data.update({f"{prefix}-{name}": value for name, value in fields.items()})
        data.update(formset_management(f"{prefix}-tiers", max(len(tiers), 1)))
        for number, tier in enumerate(tiers):
            for name, value in tier.items():
                data[f"{prefix}-tiers-{number}-{name}"] = "" if value is None else value
    return data
