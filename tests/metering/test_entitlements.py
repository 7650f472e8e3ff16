"""Entitlements: features granted by a plan (through the plan API), overridden per subscription,
answered in real time with hard and soft limits; usage alerts once per period."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Feature
from catalog.services import plan_new_version
from catalog.services.features import feature_create
from customers.services.subscription_features import subscription_feature_override
from metering.entitlement_alerts import entitlement_alerts_check
from metering.models import EntitlementAlert
from notifications.models import WebhookEndpoint, WebhookMessage
from tests.invoices.helpers import customer, meter, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def features(api_client):
    meter("api_calls")
    for body in (
        {"code": "sso", "name": "Single sign-on", "type": "boolean"},
        {"code": "seats", "name": "Seats", "type": "static"},
        {"code": "calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
        {"code": "export", "name": "Data export", "type": "boolean"},
    ):
        response = api_client.post("/api/v1/features", body, format="json")
        assert response.status_code == 201, response.json()
    return Feature.objects.all()


@pytest.fixture
def plan(api_client, features):
    response = api_client.post(
        "/api/v1/plans",
        {
            "code": "team",
            "name": "Team",
            "currency": "USD",
            "interval": "month",
            "features": [
                {"feature": "sso"},
                {"feature": "seats", "value": "5"},
                {"feature": "calls", "limit": "10", "alerts": [80, 100]},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["features"] == [
        {
            "feature": "calls",
            "type": "metered",
            "limit": "10",
            "hard": True,
            "value": "",
            "alerts": [80, 100],
        },
        {
            "feature": "seats",
            "type": "static",
            "limit": None,
            "hard": True,
            "value": "5",
            "alerts": [],
        },
        {
            "feature": "sso",
            "type": "boolean",
            "limit": None,
            "hard": True,
            "value": "",
            "alerts": [],
        },
    ]
    from catalog.models import Plan

    return Plan.objects.get(code="team")


def check(api_client, feature, external_id="acme"):
    response = api_client.get(f"/api/v1/customers/{external_id}/entitlements/{feature}")
    assert response.status_code == 200, response.json()
    body = response.json()
    return {key: body[key] for key in ("has_access", "limit", "usage", "remaining", "value")}


def ingest(api_client, count, external_id="acme"):
    events = [{"event_name": "api_call", "external_customer_id": external_id}] * count
    response = api_client.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 202


def test_a_hard_limit_closes_the_feature_as_soon_as_the_events_land(api_client, plan):
    started = timezone.now().replace(microsecond=0) - timedelta(days=1)
    subscribe(customer("acme"), plan, started_at=started)

    listed = api_client.get("/api/v1/customers/acme/entitlements").json()
    assert [(e["feature"], e["type"], e["has_access"]) for e in listed] == [
        ("calls", "metered", True),
        ("seats", "static", True),
        ("sso", "boolean", True),
    ]
    assert check(api_client, "seats") == {
        "has_access": True,
        "limit": None,
        "usage": None,
        "remaining": None,
        "value": "5",
    }
    assert check(api_client, "calls") == {
        "has_access": True,
        "limit": "10",
        "usage": "0",
        "remaining": "10",
        "value": None,
    }

    ingest(api_client, 9)
    assert check(api_client, "calls") == {
        "has_access": True,
        "limit": "10",
        "usage": "9",
        "remaining": "1",
        "value": None,
    }
    ingest(api_client, 1)
    assert check(api_client, "calls") == {
        "has_access": False,
        "limit": "10",
        "usage": "10",
        "remaining": "0",
        "value": None,
    }


def test_a_soft_override_keeps_the_feature_open_and_shows_the_overage(api_client, plan):
    started = timezone.now().replace(microsecond=0) - timedelta(days=1)
    subscription = subscribe(customer("acme"), plan, started_at=started)
    calls, sso, export = (Feature.objects.get(code=code) for code in ("calls", "sso", "export"))
    subscription_feature_override(
        subscription=subscription, feature=calls, values={"limit": "10", "hard": False}
    )
    subscription_feature_override(subscription=subscription, feature=sso, values={"enabled": False})
    subscription_feature_override(subscription=subscription, feature=export, values={})

    ingest(api_client, 12)

    assert check(api_client, "calls") == {
        "has_access": True,
        "limit": "10",
        "usage": "12",
        "remaining": "0",
        "value": None,
    }
    assert check(api_client, "sso")["has_access"] is False
    assert check(api_client, "export")["has_access"] is True


def test_not_granted_unknown_and_without_subscription(api_client, plan):
    customer("acme")
    assert check(api_client, "calls")["has_access"] is False  # no subscription
    assert api_client.get("/api/v1/customers/acme/entitlements").json() == []
    assert api_client.get("/api/v1/customers/acme/entitlements/nope").status_code == 404
    assert api_client.get("/api/v1/customers/ghost/entitlements").status_code == 404
    subscribe(customer("beta"), plan, started_at=timezone.now() - timedelta(hours=1))
    assert check(api_client, "export", "beta") == {
        "has_access": False,
        "limit": None,
        "usage": None,
        "remaining": None,
        "value": None,
    }


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        ({"feature": "sso", "limit": "5"}, "limit"),
        ({"feature": "calls", "limit": "-1"}, "limit"),
        ({"feature": "calls", "limit": "1e16"}, "limit"),
        ({"feature": "calls", "limit": "10", "alerts": [0]}, "alerts"),
        ({"feature": "calls", "alerts": [80]}, "alerts"),
        ({"feature": "seats", "value": "x" * 256}, "value"),
        ({"feature": "sso", "value": "on"}, "value"),
        ({"feature": "sso", "hard": False}, "hard"),
        ({"feature": "sso", "colour": "red"}, "colour"),
    ],
)
def test_bad_grants_are_refused_naming_the_field(api_client, features, grant, field):
    body = {"code": "bad", "name": "Bad", "currency": "USD", "interval": "month"}
    response = api_client.post("/api/v1/plans", {**body, "features": [grant]}, format="json")
    assert response.status_code == 400
    assert field in response.json()["features"]["0"]


def test_bad_features_are_refused(api_client):
    meter("api_calls")
    cases = [
        ({"code": "x", "name": "X", "type": "metered"}, "meter"),
        ({"code": "x", "name": "X", "type": "boolean", "meter": "api_calls"}, "meter"),
        ({"code": "x", "name": "X", "type": "metered", "meter": "nope"}, "meter"),
        ({"code": "x", "name": "X", "type": "tiered"}, "type"),
    ]
    for body, field in cases:
        response = api_client.post("/api/v1/features", body, format="json")
        assert response.status_code == 400 and field in response.json(), body
    ok = {"code": "x", "name": "X", "type": "boolean"}
    assert api_client.post("/api/v1/features", ok, format="json").status_code == 201
    assert api_client.post("/api/v1/features", ok, format="json").status_code == 409


def test_a_new_plan_version_keeps_its_grants(plan):
    version_2 = plan_new_version(plan=plan)
    grants = sorted((g.feature.code, g.limit) for g in version_2.feature_grants.all())
    assert grants == [("calls", Decimal("10")), ("seats", None), ("sso", None)]


def test_usage_alerts_go_out_once_per_threshold_and_period(
    plan, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(url="https://hooks.example/q", secret="whsec_dGVzdA==")
    subscribe(customer("acme"), plan, started_at=utc(2026, 1, 1), at=utc(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        send("acme", "api_call", utc(2026, 1, 5), count=7)
        assert entitlement_alerts_check(at=utc(2026, 1, 5, 1)) == 0
        send("acme", "api_call", utc(2026, 1, 6), count=1)  # 8 of 10: 80 %
        assert entitlement_alerts_check(at=utc(2026, 1, 6, 1)) == 1
        assert entitlement_alerts_check(at=utc(2026, 1, 6, 2)) == 0  # once
        send("acme", "api_call", utc(2026, 1, 7), count=3)  # 11: 100 %
        assert entitlement_alerts_check(at=utc(2026, 1, 7, 1)) == 1
        send("acme", "api_call", utc(2026, 2, 3), count=10)  # February: a new period
        assert entitlement_alerts_check(at=utc(2026, 2, 3, 1)) == 2

    alerts = list(EntitlementAlert.objects.order_by("id").values_list("threshold", "notified"))
    assert alerts == [(80, True), (100, True), (80, False), (100, True)]
    quota = [m for m in mail.outbox if "of your API calls" in m.subject]
    assert [m.subject for m in quota] == [
        "You have used 80% of your API calls",
        "You have used 100% of your API calls",
        "You have used 100% of your API calls",
    ]
    assert "You have used 8 of the 10 API calls" in quota[0].body
    webhooks = WebhookMessage.objects.filter(event_type="entitlement.threshold_reached")
    assert webhooks.count() == 3
    assert '"threshold":80' in webhooks.order_by("id").first().body


def test_feature_create_service_refuses_a_duplicate_code(db):
    feature_create(code="sso", name="SSO", type="boolean")
    with pytest.raises(Exception) as refused:
        feature_create(code="sso", name="SSO again", type="boolean")
    assert "already exists" in str(refused.value)


def test_an_override_through_the_api_changes_the_answer_and_goes_back(api_client, plan):
    started = timezone.now().replace(microsecond=0) - timedelta(days=1)
    subscription = subscribe(customer("acme"), plan, started_at=started)
    url = f"/api/v1/subscriptions/{subscription.pk}/features"
    ingest(api_client, 12)
    assert check(api_client, "calls")["has_access"] is False  # hard limit 10

    response = api_client.put(f"{url}/calls", {"limit": "50", "hard": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "subscription": subscription.pk,
        "feature": "calls",
        "enabled": True,
        "limit": "50",
        "hard": True,
        "value": "",
        "alerts": [],
    }
    assert check(api_client, "calls") == {
        "has_access": True,
        "limit": "50",
        "usage": "12",
        "remaining": "38",
        "value": None,
    }
    bad = api_client.put(f"{url}/sso", {"limit": "5"}, format="json")
    assert bad.status_code == 400 and "limit" in bad.json()
    assert api_client.put(f"{url}/nope", {}, format="json").status_code == 404

    assert api_client.delete(f"{url}/calls").status_code == 204
    assert api_client.delete(f"{url}/calls").status_code == 404
    assert check(api_client, "calls")["has_access"] is False
