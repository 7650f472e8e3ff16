"""The API's answers are the same under EVENTS_BACKEND=clickhouse as on the database alone:
/usage, the upcoming invoice, and the ingest answer's `duplicates` (docs/api.md)."""

import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from metering.clickhouse import clickhouse_sync
from tests.factories import (
    ChargeFactory,
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    TierFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clickhouse]


def send(client, events) -> dict:
    response = client.post(
        "/api/v1/events/batch", data=json.dumps({"events": events}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()


def events(customer, name, count, *, prefix, hours_ago, **properties) -> list[dict]:
    timestamp = (timezone.now() - timedelta(hours=hours_ago)).isoformat()
    return [
        {
            "event_id": f"{prefix}-{index}",
            "event_name": name,
            "external_customer_id": customer,
            "timestamp": timestamp,
            "properties": {key: value for key, value in properties.items()},
        }
        for index in range(count)
    ]


def answers(client, at) -> tuple:
    """Both answers at one moment (the answers show it: "end" is now)."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        usage = client.get("/api/v1/customers/acme/usage")
        upcoming = client.get("/api/v1/customers/acme/upcoming-invoice")
    assert usage.status_code == upcoming.status_code == 200
    return usage.json(), upcoming.json()


@pytest.mark.parametrize("store", ["clickhouse", "clickhouse_cluster"])
def test_usage_and_upcoming_invoice_answer_the_same_on_both_backends(request, api_client, store):
    plan = PlanFactory(code="pro", currency="USD")
    calls = MeterFactory(code="api_calls", event_name="api_call", aggregation="count")
    tokens = MeterFactory(
        code="tokens", event_name="llm_tokens", aggregation="sum", field="tokens", group_by="model"
    )
    peak = MeterFactory(code="peak", event_name="llm_tokens", aggregation="max", field="tokens")
    ChargeFactory(plan=plan, meter=calls, unit_amount=Decimal("0.01"), position=0)
    graduated = ChargeFactory(plan=plan, meter=tokens, model="graduated", unit_amount=None)
    TierFactory(charge=graduated, position=0, up_to=Decimal("1000"), unit_amount=Decimal("0.80"))
    TierFactory(charge=graduated, position=1, up_to=None, unit_amount=Decimal("0.40"))
    ChargeFactory(plan=plan, meter=peak, unit_amount=Decimal("0.10"), position=2)
    SubscriptionFactory(
        customer=CustomerFactory(external_id="acme"),
        plan=plan,
        started_at=timezone.now() - timedelta(days=2),
    )
    request.getfixturevalue(store)  # EVENTS_BACKEND=clickhouse from here on
    first = events("acme", "api_call", 30, prefix="c", hours_ago=5)
    first += events("acme", "llm_tokens", 3, prefix="g", hours_ago=3, tokens="333.35", model="gpt")
    first += events("acme", "llm_tokens", 2, prefix="m", hours_ago=1, tokens="0.1", model="mini")
    first += events("globex", "api_call", 7, prefix="c", hours_ago=1)
    assert send(api_client, first) == {"accepted": 42, "duplicates": 0}
    clickhouse_sync()
    # Resent (a retry): every one a duplicate, caught by the database before ClickHouse.
    assert send(api_client, first[:10]) == {"accepted": 0, "duplicates": 10}
    later = events("acme", "api_call", 5, prefix="late", hours_ago=40)  # an earlier hour
    assert send(api_client, later + first[:2]) == {"accepted": 5, "duplicates": 2}

    at = timezone.now()
    before_sync = answers(api_client, at)  # the last batch still in the outbox
    clickhouse_sync()
    after_sync = answers(api_client, at)
    with override_settings(EVENTS_BACKEND="database"):
        on_the_database = answers(api_client, at)

    assert before_sync == after_sync == on_the_database
    usage, upcoming = after_sync
    meters = {meter["meter"]: meter for meter in usage["meters"]}
    assert (meters["api_calls"]["quantity"], meters["api_calls"]["event_count"]) == ("35", 35)
    assert meters["tokens"]["quantity"] == "1000.25"
    assert meters["tokens"]["groups"] == [
        {"group": "gpt", "quantity": "1000.05", "event_count": 3},
        {"group": "mini", "quantity": "0.2", "event_count": 2},
    ]
    assert meters["peak"]["quantity"] == "333.35"
    assert upcoming["total"] == on_the_database[1]["total"]
