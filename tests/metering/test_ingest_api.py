"""POST /api/v1/events and /events/batch: contract, idempotency, all-or-nothing, refusals."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from billing.throttling import ApiKeyRateThrottle
from metering.models import Event

pytestmark = pytest.mark.django_db


def post(client, path, body):
    """POST raw JSON text (or a structure to encode) and return the response."""
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=text, content_type="application/json")


def event(event_id="e1", **overrides):
    payload = {
        "event_id": event_id,
        "event_name": "api_call",
        "external_customer_id": "acme",
        "timestamp": "2026-03-01T12:00:00Z",
        "properties": {"region": "eu"},
    }
    payload.update(overrides)
    return payload


def test_one_event_is_accepted_and_stored_as_sent(api_client):
    response = post(
        api_client,
        "/api/v1/events",
        '{"event_id": "e1", "event_name": "credits_used", "external_customer_id": "acme",'
        ' "timestamp": "2026-03-01T14:00:00+02:00",'
        ' "properties": {"credits": 0.10, "note": "caf\\u00e9 \\ud83d\\ude00", "n": [1, 2.50]}}',
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0}
    stored = Event.objects.get()
    assert stored.event_id == "e1"
    assert stored.timestamp == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert stored.properties == {
        "credits": Decimal("0.10"),
        "note": "café 😀",
        "n": [1, Decimal("2.50")],
    }
    assert str(stored.properties["credits"]) == "0.10"
    assert stored.received_at is not None and stored.is_late is False


def test_defaults_generated_event_id_now_and_empty_properties(api_client):
    before = timezone.now()
    response = post(
        api_client, "/api/v1/events", {"event_name": "api_call", "external_customer_id": "acme"}
    )
    assert response.status_code == 202
    stored = Event.objects.get()
    assert uuid.UUID(stored.event_id)
    assert before <= stored.timestamp <= timezone.now()
    assert stored.properties == {}


def test_the_same_event_twice_is_counted_once(api_client):
    assert post(api_client, "/api/v1/events", event()).json() == {"accepted": 1, "duplicates": 0}
    again = post(api_client, "/api/v1/events", event(properties={"region": "us"}))
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1}
    assert Event.objects.get().properties == {"region": "eu"}  # the first one is kept


def test_same_event_id_for_two_customers_is_two_events(api_client):
    post(api_client, "/api/v1/events", event())
    response = post(api_client, "/api/v1/events", event(external_customer_id="globex"))
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert Event.objects.count() == 2


def test_batch_twice_and_overlapping_batches(api_client):
    batch = {"events": [event("a"), event("b"), event("c")]}
    assert post(api_client, "/api/v1/events/batch", batch).json() == {
        "accepted": 3,
        "duplicates": 0,
    }
    assert post(api_client, "/api/v1/events/batch", batch).json() == {
        "accepted": 0,
        "duplicates": 3,
    }
    overlapping = {"events": [event("c"), event("d"), event("e")]}
    response = post(api_client, "/api/v1/events/batch", overlapping)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b", "c", "d", "e"]


def test_duplicates_inside_one_batch_are_counted_once(api_client):
    batch = {"events": [event("a"), event("a"), event("b"), event("a")]}
    response = post(api_client, "/api/v1/events/batch", batch)
    assert response.json() == {"accepted": 2, "duplicates": 2}
    assert Event.objects.count() == 2


def test_a_full_batch_of_1000_is_accepted(api_client):
    batch = {"events": [event(f"e{index}") for index in range(1000)]}
    response = post(api_client, "/api/v1/events/batch", batch)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1000, "duplicates": 0}


def test_one_bad_event_refuses_the_whole_batch(api_client):
    batch = {
        "events": [
            event("a"),
            event("b", timestamp="2026-03-01T12:00:00"),
            event("c"),
            event("d", event_name=None, colour="red"),
        ]
    }
    response = post(api_client, "/api/v1/events/batch", batch)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1", "3"}
    assert errors["1"] == {
        "timestamp": ["Needs a UTC offset, e.g. 2026-03-01T12:00:00Z or +02:00."]
    }
    assert errors["3"]["event_name"] == ["This field is required."]
    assert errors["3"]["colour"][0].startswith("Unknown field.")
    assert Event.objects.count() == 0


def in_minutes(minutes: int) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


BAD_EVENTS = [
    ("not an object", '["api_call"]', "non_field_errors", "An event must be a JSON object."),
    ("no name", event(event_name=None), "event_name", "This field is required."),
    ("no customer", event(external_customer_id=None), "external_customer_id", "required"),
    ("number as name", event(event_name=5), "event_name", "Must be a string."),
    ("blank customer", event(external_customer_id="  "), "external_customer_id", "blank"),
    ("id too long", event("x" * 256), "event_id", "At most 255 characters."),
    ("numeric id", event(7), "event_id", "Must be a string."),
    ("unknown field", event(customer="acme"), "customer", "Unknown field."),
    ("naive time", event(timestamp="2026-03-01T12:00:00"), "timestamp", "UTC offset"),
    ("date only", event(timestamp="2026-03-01"), "timestamp", "UTC offset"),
    ("not a time", event(timestamp="yesterday"), "timestamp", "Not an ISO 8601"),
    ("epoch number", event(timestamp=1767225600), "timestamp", "ISO 8601 string"),
    ("far future", event(timestamp="2999-01-01T00:00:00Z"), "timestamp", "in the future"),
    ("list properties", event(properties=[1, 2]), "properties", "Must be a JSON object."),
    ("NUL in name", event(event_name="api\x00call"), "event_name", "NUL"),
    ("NUL in property", event(properties={"a": "x\x00"}), "properties.a", "NUL"),
    (
        "lone surrogate",
        '{"event_name": "a\\ud800", "external_customer_id": "c"}',
        "event_name",
        "surrogates",
    ),
    ("huge number", event(properties={"v": Decimal("1e300")}), "properties.v", "out of bounds"),
    (
        "deep nesting",
        event(properties=json.loads('{"a":' * 25 + "1" + "}" * 25)),
        "properties",
        "Nested",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [case[1:] for case in BAD_EVENTS],
    ids=[case[0] for case in BAD_EVENTS],
)
def test_each_refusal_is_a_400_with_a_message_and_stores_nothing(api_client, body, field, message):
    if not isinstance(body, str):
        body = json.dumps(body, default=str).replace('"1E+300"', "1E+300")
    single = post(api_client, "/api/v1/events", body)
    assert single.status_code == 400
    assert message in single.json()[field][0]
    batch = post(api_client, "/api/v1/events/batch", '{"events": [' + body + "]}")
    assert batch.status_code == 400
    assert message in batch.json()["errors"]["0"][field][0]
    assert Event.objects.count() == 0


def test_at_most_5_minutes_ahead(api_client):
    too_early = post(api_client, "/api/v1/events", event("a", timestamp=in_minutes(6)))
    assert too_early.status_code == 400
    assert "More than 5 minutes in the future" in too_early.json()["timestamp"][0]
    response = post(api_client, "/api/v1/events", event("b", timestamp=in_minutes(4)))
    assert response.status_code == 202
    assert list(Event.objects.values_list("event_id", flat=True)) == ["b"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", {"detail": "JSON parse error"}),
        ('{"event_name": NaN}', {"detail": "JSON parse error"}),
        ('"events"', {"detail": "Send a JSON object"}),
        ('{"events": []}', {"events": "Send at least one event."}),
        ('{"events": {"0": {}}}', {"events": "Must be a list of events."}),
        ('{"event": []}', {"event": "Unknown field.", "events": "This field is required."}),
    ],
)
def test_malformed_batches_are_400(api_client, body, expected):
    response = post(api_client, "/api/v1/events/batch", body)
    assert response.status_code == 400
    for key, message in expected.items():
        detail = response.json()[key]
        assert message in (detail if isinstance(detail, str) else detail[0])
    assert Event.objects.count() == 0


def test_more_than_1000_events_is_refused(api_client):
    batch = {"events": [event(f"e{index}") for index in range(1001)]}
    response = post(api_client, "/api/v1/events/batch", batch)
    assert response.status_code == 400
    assert response.json() == {"events": ["At most 1000 events per batch; this one has 1001."]}
    assert Event.objects.count() == 0


def test_not_json_content_type_is_415(api_client):
    response = api_client.post("/api/v1/events", data="event_name=a", content_type="text/plain")
    assert response.status_code == 415
    assert "detail" in response.json()


def test_without_a_key_is_401(anonymous_client):
    response = post(anonymous_client, "/api/v1/events", event())
    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_rate_limit_per_key_is_429_with_retry_after(api_client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    assert post(api_client, "/api/v1/events", event("a")).status_code == 202
    assert post(api_client, "/api/v1/events/batch", {"events": [event("b")]}).status_code == 202
    refused = post(api_client, "/api/v1/events", event("c"))
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b"]
    cache.clear()


def test_a_body_over_the_size_limit_is_413(api_client, monkeypatch):
    from metering import api

    monkeypatch.setattr(api, "MAX_BODY_BYTES", 1000)
    batch = {"events": [event(f"e{index}") for index in range(20)]}
    response = post(api_client, "/api/v1/events/batch", batch)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert Event.objects.count() == 0


def test_invalid_utf8_is_a_400(api_client):
    response = api_client.post(
        "/api/v1/events", data=b'{"event_name": "\xff"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
