"""Catalog services and selectors called directly: what other apps and the demo rely on."""

from decimal import Decimal

import pytest

from billing.errors import AppError, ErrorKind
from catalog.models import Charge, Meter, Plan, Tier
from catalog.selectors import charge_spec, plan_latest, plans_latest, price_preview
from catalog.services import meter_create, plan_create
from rating import ChargeSpec
from rating import Tier as RatingTier
from tests.factories import MeterFactory


@pytest.fixture
def api_calls(db):
    return MeterFactory(code="api_calls", name="API calls", event_name="api_call")


def test_plan_create_takes_meters_by_code_or_instance(api_calls):
    plan = plan_create(
        code="mixed",
        name="Mixed",
        currency="USD",
        interval="month",
        charges=[
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
            {"meter": api_calls, "model": "flat", "amount": Decimal("5")},
        ],
    )

    assert [(c.meter_id, c.position) for c in plan.charges.all()] == [
        (api_calls.pk, 0),
        (api_calls.pk, 1),
    ]


def test_plan_create_is_all_or_nothing(api_calls):
    charges = [
        {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
        {"meter": "api_calls", "model": "graduated", "tiers": [{"up_to": "5"}]},
    ]

    with pytest.raises(AppError) as refusal:
        plan_create(code="p", name="P", currency="USD", interval="month", charges=charges)

    assert refusal.value.detail["charges"]["1"]["tiers"] == [
        "The last tier must be unbounded (up_to empty), so that every quantity has a price."
    ]
    assert (Plan.objects.count(), Charge.objects.count(), Tier.objects.count()) == (0, 0, 0)


def test_plan_create_refuses_floats(api_calls):
    with pytest.raises(AppError) as refusal:
        plan_create(code="p", name="P", currency="USD", interval="month", base_amount=0.1)

    assert "base_amount" in refusal.value.detail


def test_plan_create_refuses_a_taken_code(api_calls):
    plan_create(code="p", name="P", currency="USD", interval="month")

    with pytest.raises(AppError) as taken:
        plan_create(code="p", name="P again", currency="USD", interval="month")
    assert taken.value.kind == ErrorKind.CONFLICT


def test_too_many_decimals_for_the_column_is_a_field_error(api_calls):
    charges = [{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.0000000000001"}]

    with pytest.raises(AppError) as refusal:
        plan_create(code="p", name="P", currency="USD", interval="month", charges=charges)

    assert "unit_amount" in refusal.value.detail["charges"]["0"]
    assert Plan.objects.count() == 0


def test_plan_latest_is_the_highest_version(api_calls):
    plan_create(code="p", name="P", currency="USD", interval="month")
    Plan.objects.create(code="p", version=2, name="P2", currency="USD")

    assert plan_latest(code="p").version == 2
    assert [(p.code, p.version) for p in plans_latest()] == [("p", 2)]
    with pytest.raises(Plan.DoesNotExist):
        plan_latest(code="nope")


def test_charge_spec_converts_a_stored_charge(demo_catalog):
    charge = Charge.objects.prefetch_related("tiers").filter(plan__code="growth").get()

    spec = charge_spec(charge=charge)

    assert spec.model == "graduated"
    assert spec.tiers == (
        RatingTier(up_to=Decimal("1000"), unit_amount=Decimal("0.80")),
        RatingTier(up_to=Decimal("2000"), unit_amount=Decimal("0.60")),
        RatingTier(up_to=None, unit_amount=Decimal("0.40")),
    )
    assert price_preview(currency="USD", spec=spec, quantity=Decimal("2500"))["amount"] == "1600.00"


def test_price_preview_of_a_spec():
    spec = ChargeSpec(model="per_unit", unit_amount=Decimal("1.00"), free_units=Decimal("10"))

    result = price_preview(currency="USD", spec=spec, quantity=Decimal("15"))

    assert {k: result[k] for k in ("currency", "quantity", "amount", "exact_amount")} == {
        "currency": "USD",
        "quantity": "15",
        "amount": "5.00",
        "exact_amount": "5",
    }
    assert len(result["breakdown"]) >= 1


def test_meter_create_refuses_a_numeric_meter_without_field(db):
    with pytest.raises(AppError) as refusal:
        meter_create(code="gb", name="GB", event_name="storage", aggregation="max")

    assert list(refusal.value.detail) == ["field"]
    assert Meter.objects.count() == 0
