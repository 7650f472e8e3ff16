"""GET /api/v1/customers/{external_id}/usage, and events that arrive before their customer."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from metering.selectors import usage_for_period
from tests.factories import (
    ChargeFactory,
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


def send(client, customer, name, count, properties=None, *, ago=timedelta(hours=1), prefix=""):
    timestamp = (timezone.now() - ago).isoformat()
    events = [
        {
            "event_id": f"{prefix}{name}-{n}",
            "event_name": name,
            "external_customer_id": customer,
            "timestamp": timestamp,
            "properties": properties or {},
        }
        for n in range(count)
    ]
    response = client.post(
        "/api/v1/events/batch", data=json.dumps({"events": events}), content_type="application/json"
    )
    assert response.status_code == 202, response.content


@pytest.fixture
def pro_plan():
    """Per-unit $1.00 with 10 free on api calls; graduated 1000 @ 0.80, 1000 @ 0.60, rest 0.40."""
    plan = PlanFactory(code="pro", currency="USD")
    calls = MeterFactory(code="api_calls", event_name="api_call", aggregation="count")
    tokens = MeterFactory(
        code="tokens",
        event_name="llm_tokens",
        aggregation="sum",
        field="tokens",
        group_by="model",
    )
    ChargeFactory(
        plan=plan,
        meter=calls,
        model="per_unit",
        unit_amount=Decimal("1.00"),
        free_units=Decimal("10"),
        position=0,
    )
    graduated = ChargeFactory(
        plan=plan, meter=tokens, model="graduated", unit_amount=None, position=1
    )
    TierFactory(charge=graduated, position=0, up_to=Decimal("1000"), unit_amount=Decimal("0.80"))
    TierFactory(charge=graduated, position=1, up_to=Decimal("2000"), unit_amount=Decimal("0.60"))
    TierFactory(charge=graduated, position=2, up_to=None, unit_amount=Decimal("0.40"))
    return plan


def test_usage_per_meter_with_amount_so_far(api_client, pro_plan):
    SubscriptionFactory(
        customer=CustomerFactory(external_id="acme"),
        plan=pro_plan,
        started_at=timezone.now() - timedelta(days=2),
    )
    send(api_client, "acme", "api_call", 15)
    send(api_client, "acme", "llm_tokens", 2, {"tokens": "1000.25", "model": "gpt"})
    send(api_client, "acme", "llm_tokens", 1, {"tokens": 499.5, "model": "mini"}, prefix="m")
    send(api_client, "globex", "api_call", 40)

    response = api_client.get("/api/v1/customers/acme/usage")
    assert response.status_code == 200
    body = response.json()
    assert body["customer"] == "acme"
    assert body["plan"] == "pro"
    assert body["currency"] == "USD"
    meters = {meter["meter"]: meter for meter in body["meters"]}
    assert [meter["meter"] for meter in body["meters"]] == ["api_calls", "tokens"]
    assert meters["api_calls"]["quantity"] == "15"
    assert meters["api_calls"]["event_count"] == 15
    assert meters["api_calls"]["amount"] == "5.00"
    assert meters["tokens"]["quantity"] == "2500"
    assert meters["tokens"]["amount"] == "1600.00"
    assert meters["tokens"]["groups"] == [
        {"group": "gpt", "quantity": "2000.5", "event_count": 2},
        {"group": "mini", "quantity": "499.5", "event_count": 1},
    ]
    assert body["amount"] == "1605.00"
    assert body["period_start"] <= timezone.now().isoformat().replace("+00:00", "Z")


def test_reset_never_meter_counts_since_the_subscription_started(api_client):
    plan = PlanFactory(code="storage", currency="USD", interval="month")
    seats = MeterFactory(code="seats", event_name="seat_added", aggregation="count", reset="never")
    calls = MeterFactory(code="calls", event_name="api_call", aggregation="count")
    ChargeFactory(plan=plan, meter=seats, unit_amount=Decimal("2.00"))
    ChargeFactory(plan=plan, meter=calls, unit_amount=Decimal("0.10"))
    SubscriptionFactory(
        customer=CustomerFactory(external_id="initech"),
        plan=plan,
        started_at=timezone.now() - timedelta(days=45),
    )
    send(api_client, "initech", "seat_added", 3, ago=timedelta(days=40), prefix="old")
    send(api_client, "initech", "api_call", 7, ago=timedelta(days=40), prefix="old")
    send(api_client, "initech", "seat_added", 1)
    send(api_client, "initech", "api_call", 2)

    meters = {
        m["meter"]: m for m in api_client.get("/api/v1/customers/initech/usage").json()["meters"]
    }
    assert (meters["seats"]["quantity"], meters["seats"]["amount"]) == ("4", "8.00")
    assert (meters["calls"]["quantity"], meters["calls"]["amount"]) == ("2", "0.20")
    assert meters["seats"]["start"] < meters["calls"]["start"]


def test_customer_without_subscription_sees_every_meter_without_amounts(api_client):
    CustomerFactory(external_id="hooli")
    MeterFactory(code="api_calls", event_name="api_call", aggregation="count")
    send(api_client, "hooli", "api_call", 3)
    body = api_client.get("/api/v1/customers/hooli/usage").json()
    assert body["subscription"] is None and body["amount"] is None
    assert [(m["meter"], m["quantity"], m["amount"]) for m in body["meters"]] == [
        ("api_calls", "3", None)
    ]


def test_unknown_customer_is_404(api_client):
    response = api_client.get("/api/v1/customers/nobody/usage")
    assert response.status_code == 404
    assert response.json() == {"detail": "No customer with external_id 'nobody'."}


def test_usage_needs_a_key(anonymous_client):
    assert anonymous_client.get("/api/v1/customers/acme/usage").status_code == 401


def test_events_sent_before_the_customer_and_meter_exist_count_once_they_do(api_client):
    # Events land first: no customer "newco", no meter for "credits_used" yet.
    send(api_client, "newco", "credits_used", 4, {"credits": "2.5"}, ago=timedelta(minutes=30))
    assert api_client.get("/api/v1/customers/newco/usage").status_code == 404

    meter = MeterFactory(
        code="credits", event_name="credits_used", aggregation="sum", field="credits"
    )
    plan = PlanFactory(code="starter", currency="USD")
    ChargeFactory(plan=plan, meter=meter, unit_amount=Decimal("0.25"))
    SubscriptionFactory(
        customer=CustomerFactory(external_id="newco"),
        plan=plan,
        started_at=timezone.now() - timedelta(hours=2),
    )

    body = api_client.get("/api/v1/customers/newco/usage").json()
    assert [(m["meter"], m["quantity"], m["event_count"], m["amount"]) for m in body["meters"]] == [
        ("credits", "10", 4, "2.50")
    ]
    usage = usage_for_period(
        meter=meter,
        external_customer_id="newco",
        start=timezone.now() - timedelta(hours=2),
        end=timezone.now(),
    )
    assert usage.quantity == Decimal("10.0")
