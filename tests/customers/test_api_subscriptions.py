"""The subscriptions API: subscribe, read, change plan, cancel, and the refusals of each."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Subscription
from rating.periods import add_interval
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def parse(moment: str | None) -> datetime | None:
    return None if moment is None else datetime.fromisoformat(moment)


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme", name="Acme Corp", currency="USD")


@pytest.fixture
def pro():
    return PlanFactory(code="pro", name="Pro", base_amount=Decimal("50.00"))


def subscribe(api_client, **fields):
    return api_client.post(
        "/api/v1/subscriptions", {"customer": "acme", "plan": "pro", **fields}, format="json"
    )


def test_subscribe_with_a_start_in_the_past_reports_the_first_unbilled_period(
    api_client, acme, pro
):
    now = timezone.now()
    started = add_interval(now, interval="month", count=-2).replace(microsecond=0)

    response = subscribe(api_client, started_at=started.isoformat())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["customer"] == "acme"
    assert (body["plan"], body["plan_version"], body["currency"]) == ("pro", 1, "USD")
    assert body["status"] == "active"
    assert body["anchor"] == "anniversary"
    assert parse(body["started_at"]) == started
    assert parse(body["current_period_start"]) == started
    assert parse(body["current_period_end"]) == add_interval(started, interval="month")
    assert parse(body["next_billing_at"]) == parse(body["current_period_end"])
    assert body["phases"] == [
        {
            "plan": "pro",
            "plan_version": 1,
            "starts_at": body["started_at"],
            "ends_at": None,
            "reason": "start",
        }
    ]
    assert body["cancel_at_period_end"] is False
    assert body["ended_at"] is None
    assert body["started_at"].endswith("Z")  # ISO 8601 with the UTC designator


def test_subscribe_defaults_to_now_and_to_the_latest_plan_version(api_client, acme, pro):
    PlanFactory(code="pro", version=2, base_amount=Decimal("60.00"))
    before = timezone.now()

    response = subscribe(api_client, anchor="calendar")

    body = response.json()
    assert response.status_code == 201
    assert body["plan_version"] == 2
    assert body["anchor"] == "calendar"
    assert before <= parse(body["started_at"]) <= timezone.now()
    assert parse(body["current_period_end"]).day == 1


def test_subscribe_to_a_given_version_with_a_trial(api_client, acme, pro):
    PlanFactory(code="pro", version=2)

    response = subscribe(
        api_client, plan_version=1, trial_days=7, started_at="2026-03-01T00:00:00+01:00"
    )

    body = response.json()
    assert response.status_code == 201, body
    assert (body["plan_version"], body["status"]) == (1, "active")
    assert body["started_at"] == "2026-02-28T23:00:00Z"
    assert body["trial_ends_at"] == "2026-03-07T23:00:00Z"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"plan": "nope"}, {"plan": ["Unknown plan 'nope'."]}),
        ({"plan_version": 9}, {"plan": ["Plan 'pro' has no version 9."]}),
        ({"customer": "nobody"}, {"customer": ["Unknown customer 'nobody'."]}),
        (
            {"started_at": "2026-01-01T00:00:00"},
            {"started_at": ["Include a UTC offset, e.g. 2026-01-31T00:00:00Z."]},
        ),
        (
            {"started_at": "last tuesday"},
            {"started_at": ["Not an ISO 8601 date and time: 'last tuesday'."]},
        ),
        (
            {"started_at": "2026-02-30T00:00:00Z"},
            {"started_at": ["Not an ISO 8601 date and time: '2026-02-30T00:00:00Z'."]},
        ),
        (
            {"started_at": 1767225600},
            {"started_at": ["Not an ISO 8601 date and time: 1767225600."]},
        ),
        ({"anchor": "weekly"}, {"anchor": ['"weekly" is not a valid choice.']}),
        ({"seats": 3}, {"seats": ["Unknown field."]}),
        (
            {"started_at": "2199-01-01T00:00:00Z"},
            {"started_at": ["started_at cannot be in the future."]},
        ),
        (
            {"started_at": "2026-01-01T00:00:00Z", "ends_at": "2025-12-01T00:00:00Z"},
            {"ends_at": ["ends_at must be after started_at."]},
        ),
    ],
)
def test_subscribe_refusals_are_400s_that_create_nothing(api_client, acme, pro, fields, expected):
    response = subscribe(api_client, **fields)

    assert response.status_code == 400
    assert response.json() == expected
    assert not Subscription.objects.exists()


def test_a_plan_in_another_currency_is_refused(api_client, acme):
    PlanFactory(code="pro-eur", currency="EUR")

    response = subscribe(api_client, plan="pro-eur")

    assert response.status_code == 400
    assert response.json() == {
        "plan": ["Plan 'pro-eur' is billed in EUR but customer 'acme' is billed in USD."]
    }
    assert not Subscription.objects.exists()


def test_a_second_live_subscription_is_a_409(api_client, acme, pro):
    assert subscribe(api_client).status_code == 201

    response = subscribe(api_client)

    assert response.status_code == 409
    assert "already has a live subscription" in response.json()["detail"]
    assert Subscription.objects.count() == 1


def test_get_and_list_subscriptions(api_client, acme, pro):
    mine = SubscriptionFactory(customer=acme, plan=pro)
    other = SubscriptionFactory(plan=PlanFactory(code="scale"))

    one = api_client.get(f"/api/v1/subscriptions/{mine.pk}")
    all_ = api_client.get("/api/v1/subscriptions")
    for_acme = api_client.get("/api/v1/subscriptions", {"customer": "acme"})
    on_scale = api_client.get("/api/v1/subscriptions", {"plan": "scale", "status": "active"})
    bad_status = api_client.get("/api/v1/subscriptions", {"status": "paused"})

    assert one.status_code == 200
    assert (one.json()["id"], one.json()["customer"]) == (mine.pk, "acme")
    assert {s["id"] for s in all_.json()} == {mine.pk, other.pk}
    assert [s["id"] for s in for_acme.json()] == [mine.pk]
    assert [s["id"] for s in on_scale.json()] == [other.pk]
    assert bad_status.status_code == 400
    assert "Unknown status 'paused'" in bad_status.json()["status"][0]


@pytest.mark.parametrize("path", ["999999", "abc", "99999999999999999999999"])
def test_unknown_subscription_is_a_404(api_client, path):
    for response in (
        api_client.get(f"/api/v1/subscriptions/{path}"),
        api_client.post(f"/api/v1/subscriptions/{path}/cancel", {}, format="json"),
        api_client.post(f"/api/v1/subscriptions/{path}/change-plan", {"plan": "x"}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": f"Unknown subscription {path}."}


def test_change_plan_upgrade_is_immediate(api_client, acme, pro):
    starter = PlanFactory(code="starter", base_amount=Decimal("10.00"))
    subscription = SubscriptionFactory(customer=acme, plan=starter)

    response = api_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/change-plan", {"plan": "pro"}, format="json"
    )

    body = response.json()
    assert response.status_code == 200, body
    assert body["plan"] == "pro"
    assert [(p["plan"], p["reason"]) for p in body["phases"]] == [
        ("starter", "start"),
        ("pro", "upgrade"),
    ]
    assert body["phases"][0]["ends_at"] == body["phases"][1]["starts_at"]


def test_change_plan_downgrade_waits_for_the_period_end(api_client, acme, pro):
    PlanFactory(code="starter", base_amount=Decimal("10.00"))
    subscription = SubscriptionFactory(customer=acme, plan=pro)

    response = api_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/change-plan", {"plan": "starter"}, format="json"
    )

    body = response.json()
    assert response.status_code == 200, body
    assert body["plan"] == "pro"
    assert body["phases"][1] == {
        "plan": "starter",
        "plan_version": 1,
        "starts_at": body["current_period_end"],
        "ends_at": None,
        "reason": "downgrade",
    }


def test_change_plan_at_a_past_moment_of_the_unbilled_period(api_client, acme, pro):
    PlanFactory(code="starter", base_amount=Decimal("10.00"))
    started = add_interval(timezone.now(), interval="month", count=-2).replace(microsecond=0)
    subscription = SubscriptionFactory(customer=acme, plan=pro, started_at=started)
    moment = started + timedelta(days=10)

    response = api_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/change-plan",
        {"plan": "starter", "at": moment.isoformat()},
        format="json",
    )

    body = response.json()
    assert response.status_code == 200, body
    assert body["plan"] == "starter"
    assert parse(body["phases"][1]["starts_at"]) == moment
    assert parse(body["phases"][0]["ends_at"]) == moment


def test_change_plan_refusals(api_client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)
    PlanFactory(code="pro-eur", currency="EUR")
    url = f"/api/v1/subscriptions/{subscription.pk}/change-plan"

    unknown = api_client.post(url, {"plan": "gold"}, format="json")
    currency = api_client.post(url, {"plan": "pro-eur"}, format="json")
    same = api_client.post(url, {"plan": "pro"}, format="json")
    naive = api_client.post(url, {"plan": "pro", "at": "2026-01-01T00:00"}, format="json")
    missing = api_client.post(url, {}, format="json")

    assert (unknown.status_code, unknown.json()) == (400, {"plan": ["Unknown plan 'gold'."]})
    assert currency.status_code == 400
    assert "billed in EUR" in currency.json()["plan"][0]
    assert same.status_code == 400
    assert "already on plan 'pro' v1" in same.json()["plan"][0]
    assert naive.status_code == 400
    assert naive.json() == {"at": ["Include a UTC offset, e.g. 2026-01-31T00:00:00Z."]}
    assert missing.json() == {"plan": ["This field is required."]}
    assert subscription.phases.count() == 1


def test_change_plan_on_an_ended_subscription_is_refused(api_client, acme, pro):
    starter = PlanFactory(code="starter", base_amount=Decimal("10.00"))
    subscription = SubscriptionFactory(customer=acme, plan=starter)
    cancel_url = f"/api/v1/subscriptions/{subscription.pk}/cancel"
    assert api_client.post(cancel_url, {"at_period_end": False}, format="json").status_code == 200

    response = api_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/change-plan", {"plan": "pro"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Subscription #{subscription.pk} is canceled: its plan can no longer change."
    }
    subscription.refresh_from_db()
    assert subscription.plan == starter


def test_cancel_at_period_end_then_now(api_client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)
    url = f"/api/v1/subscriptions/{subscription.pk}/cancel"

    later = api_client.post(url, {"at_period_end": True}, format="json").json()
    assert later["status"] == "active"
    assert later["cancel_at_period_end"] is True
    assert later["cancel_at"] == later["current_period_end"]
    assert later["ended_at"] is None

    now = api_client.post(url, {"at_period_end": False}, format="json").json()
    assert now["status"] == "canceled"
    assert now["ended_at"] == now["current_period_end"]
    assert now["phases"][0]["ends_at"] == now["ended_at"]

    again = api_client.post(url, {"at_period_end": False}, format="json")
    assert again.status_code == 400
    assert again.json() == {"detail": f"Subscription #{subscription.pk} is already canceled."}


def test_cancel_refuses_a_bad_body(api_client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)
    url = f"/api/v1/subscriptions/{subscription.pk}/cancel"

    assert api_client.post(url, {"at_period_end": "soon"}, format="json").status_code == 400
    assert api_client.post(url, {"now": True}, format="json").json() == {"now": ["Unknown field."]}
    subscription.refresh_from_db()
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", False)
