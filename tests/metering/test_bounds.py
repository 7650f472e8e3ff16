"""Issue 9, items 2, 4 and 10: what ingestion accepts can always be billed.

Numbers within ±1e15 (a 400 naming the event and the property otherwise), timestamps at most
five years old, negative values kept but never counted, customer ids trimmed, and overlapping
batches that never deadlock.
"""

import json
import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from billing.services import api_key_create
from metering.models import Event
from tests.factories import (
    ChargeFactory,
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def event(event_id, **overrides):
    payload = {
        "event_id": event_id,
        "event_name": "llm_tokens",
        "external_customer_id": "acme",
        "timestamp": (timezone.now() - timedelta(hours=1)).isoformat(),
        "properties": {"tokens": 5},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"tokens": "1e30"}, "properties.tokens"),
        ({"tokens": 10**16}, "properties.tokens"),
        ({"tokens": "-1000000000000001"}, "properties.tokens"),
        ({"usage": {"tokens": "1e400"}}, "properties.usage.tokens"),
        ({"list": [1, "2e20"]}, "properties.list.1"),
    ],
)
def test_a_number_out_of_bounds_is_a_400_naming_the_event_and_field(api_client, properties, field):
    body = {"events": [event("ok"), event("bad", properties=properties)]}

    response = post(api_client, "/api/v1/events/batch", body)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["1"]
    assert list(errors["1"]) == [field]
    assert "out of bounds" in errors["1"][field][0]
    assert not Event.objects.exists()


def test_the_largest_numbers_and_non_numeric_text_are_accepted(api_client):
    properties = {"a": 10**15, "b": "-1e15", "c": "0.000001", "id": "ord-12345678901234567890"}

    response = post(api_client, "/api/v1/events", event("e", properties=properties))

    assert response.status_code == 202


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:30:00-01:00"]
)
def test_timestamps_outside_the_window_are_400(api_client, timestamp):
    response = post(api_client, "/api/v1/events", event("e", timestamp=timestamp))

    assert response.status_code == 400
    assert "timestamp" in response.json()
    assert not Event.objects.exists()


def test_a_timestamp_four_years_old_is_accepted(api_client):
    old = (timezone.now() - timedelta(days=4 * 365)).isoformat()

    assert post(api_client, "/api/v1/events", event("e", timestamp=old)).status_code == 202


def test_event_customer_ids_are_trimmed_like_customers_external_ids(api_client):
    post(api_client, "/api/v1/customers", {"external_id": " acme ", "name": "Acme"})

    post(api_client, "/api/v1/events", event("e", external_customer_id="  acme "))

    assert list(Event.objects.values_list("external_customer_id", flat=True)) == ["acme"]


@pytest.fixture
def subscribed():
    plan = PlanFactory(code="tokens-plan", currency="USD")
    meter = MeterFactory(code="tokens", event_name="llm_tokens", aggregation="sum", field="tokens")
    ChargeFactory(plan=plan, meter=meter, model="per_unit", unit_amount=Decimal("0.01"))
    customer = CustomerFactory(external_id="acme", currency="USD")
    SubscriptionFactory(customer=customer, plan=plan, started_at=timezone.now() - timedelta(days=2))
    return customer


def test_a_negative_value_is_kept_but_never_counted_and_nothing_breaks(api_client, subscribed):
    body = {"events": [event("neg", properties={"tokens": -50000000}), event("pos")]}

    assert post(api_client, "/api/v1/events/batch", body).status_code == 202

    usage = api_client.get("/api/v1/customers/acme/usage")
    assert usage.status_code == 200
    assert usage.json()["meters"][0]["quantity"] == "5"
    assert usage.json()["meters"][0]["event_count"] == 1
    upcoming = api_client.get("/api/v1/customers/acme/upcoming-invoice")
    assert upcoming.status_code == 200
    assert Event.objects.count() == 2


def test_an_excluded_event_is_skipped_by_usage(api_client, subscribed):
    from metering.services import event_exclude

    post(api_client, "/api/v1/events/batch", {"events": [event("a"), event("b")]})
    event_exclude(
        event=Event.objects.get(event_id="a"), reason="duplicate", by="ops", at=timezone.now()
    )

    usage = api_client.get("/api/v1/customers/acme/usage").json()

    assert usage["meters"][0]["quantity"] == "5"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_different_orders_never_deadlock():
    """Four threads post batches that share events, each shuffled its own way, five rounds."""
    _, raw_key = api_key_create(name="deadlock")
    statuses = []
    for round_number in range(5):
        shared = [(f"r{round_number}-e{n}", f"c{n % 7}") for n in range(400)]
        bodies = []
        for seed in range(4):
            ids = shared[:]
            random.Random(seed).shuffle(ids)
            events = [
                {"event_id": i, "event_name": "api_call", "external_customer_id": customer}
                for i, customer in ids[:300]
            ]
            bodies.append(json.dumps({"events": events}))
        barrier = threading.Barrier(len(bodies))

        def worker(body, barrier):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            try:
                barrier.wait(timeout=10)
                response = client.post(
                    "/api/v1/events/batch", data=body, content_type="application/json"
                )
                statuses.append(response.status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(body, barrier)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert Event.objects.filter(event_id__startswith=f"r{round_number}-").count() == len(
            {i for body in bodies for i in (e["event_id"] for e in json.loads(body)["events"])}
        )
    assert statuses == [202] * 20
