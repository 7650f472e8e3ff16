"""Issue 9, items 1, 3 and 10: instants, plans and ids that could stop billing are refused.

Starts backdated at most 5 years and 400 periods, plan changes at most 5 years ahead, API
instants from 2000 to 2199 (no date overflow), plan intervals capped, meter property paths
that mean something, external ids that can be looked up.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Meter, Plan
from customers.models import Customer, Subscription
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def old1():
    return CustomerFactory(external_id="old1", name="Old", currency="USD")


@pytest.fixture
def team():
    return PlanFactory(code="team", name="Team", base_amount=Decimal("49.00"))


def subscribe(api_client, **fields):
    body = {"customer": "old1", "plan": "team", **fields}
    return api_client.post("/api/v1/subscriptions", body, format="json")


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "started_at",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "1999-12-31T23:59:59Z",
    ],
)
def test_a_start_out_of_range_is_a_400_and_creates_nothing(api_client, old1, team, started_at):
    response = subscribe(api_client, started_at=started_at)

    assert response.status_code == 400
    assert "started_at" in response.json()
    assert not Subscription.objects.exists()


def test_a_start_more_than_5_years_back_is_refused(api_client, old1, team):
    response = subscribe(api_client, started_at=iso(timezone.now() - timedelta(days=5 * 366)))

    assert response.status_code == 400
    assert "backdated by at most 5 years" in response.json()["started_at"][0]
    assert subscribe(
        api_client, started_at=iso(timezone.now() - timedelta(days=4 * 365))
    ).status_code == (201)


def test_a_start_more_than_400_periods_back_is_refused(api_client, old1):
    PlanFactory(code="team", interval="hour", base_amount=Decimal("1.00"))

    too_old = subscribe(api_client, started_at=iso(timezone.now() - timedelta(hours=401)))
    fine = subscribe(api_client, started_at=iso(timezone.now() - timedelta(hours=399)))

    assert too_old.status_code == 400
    assert "400 periods" in too_old.json()["started_at"][0]
    assert fine.status_code == 201


def test_the_admin_refuses_a_start_in_year_1(admin_client, old1, team):
    response = admin_client.post(
        f"/admin/customers/customer/{old1.pk}/subscribe/",
        {"plan": team.pk, "started_at": "0001-01-01 00:00", "anchor": "anniversary"},
    )

    assert response.status_code == 200
    assert "backdated by at most 5 years" in response.content.decode()
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("9999-12-31T00:00:00Z", "Out of range"),
        ("2150-01-01T00:00:00Z", "at most 5 years ahead"),
    ],
)
def test_a_plan_change_too_far_ahead_is_a_400(api_client, old1, team, at, message):
    subscription = SubscriptionFactory(customer=old1, plan=team)
    PlanFactory(code="pro", base_amount=Decimal("99.00"))

    response = api_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/change-plan",
        {"plan": "pro", "at": at},
        format="json",
    )

    assert response.status_code == 400
    assert message in response.json()["at"][0]
    assert subscription.phases.count() == 1


@pytest.mark.parametrize(
    ("interval", "interval_count"),
    [("year", 1_000_000), ("day", 2_147_483_647), ("minute", 1441), ("month", 61)],
)
def test_plan_intervals_are_capped(api_client, interval, interval_count):
    body = {
        "code": "long",
        "name": "Long",
        "currency": "USD",
        "interval": interval,
        "interval_count": interval_count,
    }

    response = api_client.post("/api/v1/plans", body, format="json")

    assert response.status_code == 400
    assert "interval_count" in response.json()
    assert not Plan.objects.exists()


@pytest.mark.parametrize("field", ["...", ".tokens", "usage..tokens", "a b"])
def test_a_meter_field_must_be_a_property_path(api_client, field):
    body = {
        "code": "m",
        "name": "M",
        "event_name": "e",
        "aggregation": "sum",
        "field": field,
    }

    response = api_client.post("/api/v1/meters", body, format="json")

    assert response.status_code == 400
    assert "not a property path" in response.json()["field"][0]
    assert not Meter.objects.exists()


@pytest.mark.parametrize("external_id", ["a/b", "tab\there"])
def test_an_external_id_that_could_never_be_looked_up_is_refused(api_client, external_id):
    response = api_client.post(
        "/api/v1/customers", {"external_id": external_id, "name": "X"}, format="json"
    )

    assert response.status_code == 400
    assert "external_id" in response.json()
    assert not Customer.objects.exists()


def test_a_trimmed_external_id_is_found(api_client):
    api_client.post("/api/v1/customers", {"external_id": " x ", "name": "X"}, format="json")

    assert api_client.get("/api/v1/customers/x").json()["external_id"] == "x"
