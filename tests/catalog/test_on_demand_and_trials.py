"""Catalog rules the charge ledger relies on: which meters can be billed on demand, and the
plan flag that bills a trial's usage."""

import pytest

from billing.errors import AppError
from catalog.models import Plan
from catalog.services import meter_update, plan_create
from tests.catalog.conftest import plan_builder_post
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("aggregation", ["min", "avg", "latest"])
def test_the_plan_builder_refuses_on_demand_on_a_meter_that_can_go_down(admin_client, aggregation):
    meter = MeterFactory(code="seats", name="Seats", aggregation=aggregation, field="n")
    data = plan_builder_post(
        charges=[
            {
                "meter": str(meter.pk),
                "model": "per_unit",
                "unit_amount": "5",
                "cadence": "on_demand",
            }
        ]
    )

    response = admin_client.post("/admin/catalog/plan/add/", data)

    assert response.status_code == 200
    assert f"Meter &#x27;seats&#x27; aggregates with &#x27;{aggregation}&#x27;" in (
        response.content.decode()
    )
    assert not Plan.objects.exists()


@pytest.mark.parametrize("aggregation", ["count", "sum", "max", "unique_count"])
def test_growing_aggregations_may_be_billed_on_demand(api_client, aggregation):
    MeterFactory(code="usage", aggregation=aggregation, field="" if aggregation == "count" else "n")
    body = {
        "code": "od",
        "name": "On demand",
        "currency": "USD",
        "interval": "month",
        "charges": [
            {"meter": "usage", "model": "per_unit", "unit_amount": "1", "cadence": "on_demand"}
        ],
    }

    assert api_client.post("/api/v1/plans", body, format="json").status_code == 201


def test_a_meter_billed_on_demand_cannot_change_to_an_aggregation_that_goes_down(api_client):
    MeterFactory(code="calls", aggregation="count")
    body = {
        "code": "od",
        "name": "On demand",
        "currency": "USD",
        "interval": "month",
        "charges": [
            {"meter": "calls", "model": "per_unit", "unit_amount": "1", "cadence": "on_demand"}
        ],
    }
    assert api_client.post("/api/v1/plans", body, format="json").status_code == 201

    response = api_client.patch(
        "/api/v1/meters/calls", {"aggregation": "latest", "field": "n"}, format="json"
    )

    assert response.status_code == 400
    assert "prices on-demand charges of od v1" in response.json()["aggregation"][0]


def test_trial_bills_usage_is_off_by_default_and_round_trips(api_client):
    base = {"name": "Trial", "currency": "USD", "interval": "month", "trial_days": 14}
    free = api_client.post("/api/v1/plans", {"code": "free", **base}, format="json").json()
    paid = api_client.post(
        "/api/v1/plans", {"code": "paid", "trial_bills_usage": True, **base}, format="json"
    ).json()

    assert (free["trial_bills_usage"], paid["trial_bills_usage"]) == (False, True)
    assert api_client.get("/api/v1/plans/paid").json()["trial_bills_usage"] is True


def test_meter_update_refusal_changes_nothing(db):
    meter = MeterFactory(code="calls", aggregation="count")
    plan_create(
        code="od",
        name="On demand",
        currency="USD",
        interval="month",
        charges=[
            {"meter": "calls", "model": "per_unit", "unit_amount": "1", "cadence": "on_demand"}
        ],
    )

    with pytest.raises(AppError, match="can go down"):
        meter_update(meter=meter, aggregation="avg", field="n")

    meter.refresh_from_db()
    assert (meter.aggregation, meter.field) == ("count", "")
