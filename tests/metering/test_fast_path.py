"""The event endpoints' fast path (metering/fast_path.py) answers exactly as the full stack.

Each case sends the same request twice: through the project's middleware (where the fast path
answers the requests it recognises) and through the same stack without it (DRF's views, as
before the fast path). Status, body and headers must be the same; `fast` says whether the fast
path itself answers (a plain HttpResponse) or leaves the request to DRF (a DRF Response).
"""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import modify_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from billing.models import ApiKey, ApiKeyScope
from billing.services import api_key_create
from billing.throttling import ApiKeyRateThrottle, FailedAuthThrottle
from metering.models import Event

pytestmark = pytest.mark.django_db

FAST_PATH = "metering.fast_path.ingest_fast_path"
SINGLE = "/api/v1/events"
BATCH = "/api/v1/events/batch"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def event(event_id, **overrides):
    payload = {
        "event_id": event_id,
        "event_name": "api_call",
        "external_customer_id": "acme",
        "timestamp": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "properties": {"tokens": 0.10, "region": "eu"},
    }
    payload.update(overrides)
    return payload


def single(event_id, **overrides):
    return json.dumps(event(event_id, **overrides))


def batch(*event_ids):
    return json.dumps({"events": [event(event_id) for event_id in event_ids]})


def send(key, path, body, *, method="post", content_type="application/json", **extra):
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    request = getattr(APIClient(), method)
    return request(path, data=body, content_type=content_type, **extra)


def both(request):
    """request() on the fast path, then on the full stack without it: the two responses."""
    fast = request("fast")
    with modify_settings(MIDDLEWARE={"remove": [FAST_PATH]}):
        full = request("full")
    return fast, full


def assert_same(fast, full, *, answered_fast: bool, throttled: bool = False):
    """Same status, body and headers; a 429's wait (in its body and Retry-After) was computed
    a moment apart, so it may differ by a second."""
    assert isinstance(full, Response)  # the full stack: DRF's view answered
    assert isinstance(fast, Response) is not answered_fast
    ignore = ("Retry-After",) if throttled else ()
    bodies = [fast.content, full.content]
    if throttled:
        bodies = [re.sub(rb"in \d+ seconds", b"in N seconds", body) for body in bodies]
        assert abs(int(fast["Retry-After"]) - int(full["Retry-After"])) <= 1
    assert (fast.status_code, bodies[0]) == (full.status_code, bodies[1])
    headers = {name: value for name, value in fast.headers.items() if name not in ignore}
    assert headers == {name: value for name, value in full.headers.items() if name not in ignore}


@pytest.fixture
def key(db):
    return api_key_create(name="fast path")[1]


def test_the_paths_are_the_urls_of_the_two_views():
    assert reverse("event-create") == SINGLE
    assert reverse("event-batch") == BATCH


def test_an_event_and_a_batch_are_stored_with_the_same_answer_and_headers(key):
    fast, full = both(lambda way: send(key, SINGLE, single(f"one-{way}")))
    assert_same(fast, full, answered_fast=True)
    assert fast.status_code == 202 and fast.json() == {"accepted": 1, "duplicates": 0}
    # The security headers of every answer: SecurityMiddleware wraps the fast path, which adds
    # the CSP and X-Frame-Options headers the middleware below it would.
    assert fast["X-Frame-Options"] == "DENY"
    assert fast["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in fast["Content-Security-Policy"]
    fast, full = both(lambda way: send(key, BATCH, batch(f"a-{way}", f"b-{way}", f"a-{way}")))
    assert_same(fast, full, answered_fast=True)
    assert fast.json() == {"accepted": 2, "duplicates": 1}
    assert Event.objects.filter(event_id__startswith="one-").count() == 2
    assert set(Event.objects.values_list("event_id", flat=True)) >= {"a-fast", "b-full"}
    stored = Event.objects.get(event_id="one-fast")
    assert str(stored.properties["tokens"]) == "0.1"


@pytest.mark.parametrize(
    ("properties", "decoded"),
    [
        ({"tokens": 12, "cost": "0.0042", "model": "large", "ok": True, "none": None}, True),
        ({"usage": {"tokens": 7, "by": ["a", 1.5]}}, True),  # nested: metering.validation writes it
        ({"région": "Île-de-France", "n": 2}, False),  # non-ASCII: the careful path
    ],
)
def test_a_batch_is_stored_alike_whichever_way_it_is_decoded(key, properties, decoded, monkeypatch):
    from metering import api

    decoder, answers = api._BATCH_DECODER, []

    class Spy:  # the real decoder, its answers recorded
        def rows(self, body, *, at):
            answers.append(decoder.rows(body, at=at))
            return answers[-1]

    monkeypatch.setattr(api, "_BATCH_DECODER", Spy())

    def sent(way):
        events = [event(f"{way}-{n}", properties=properties) for n in range(3)]
        body = json.dumps({"events": events}).replace('"0.0042"', "0.0042")
        return send(key, BATCH, body)

    fast, full = both(sent)
    assert_same(fast, full, answered_fast=True)
    assert fast.json() == {"accepted": 3, "duplicates": 0}

    def stored(way):
        rows = Event.objects.filter(event_id__startswith=f"{way}-").order_by("event_id")
        return [
            (e.event_id[len(way) :], e.event_name, e.external_customer_id, e.properties)
            for e in rows
        ]

    assert stored("fast") == stored("full") and len(stored("fast")) == 3
    # The decoder saw the fast path's request only (the full stack's DRF view parses the body).
    assert len(answers) == 1 and (answers[0] is not None) is decoded


def test_a_duplicate_is_answered_the_same(key):
    send(key, SINGLE, single("dup"))
    fast, full = both(lambda way: send(key, SINGLE, single("dup")))
    assert_same(fast, full, answered_fast=True)
    assert fast.json() == {"accepted": 0, "duplicates": 1}


REFUSED_BODIES = [
    (SINGLE, json.dumps(event("x", colour="red"))),
    (SINGLE, json.dumps(event("x", timestamp="2026-03-01T12:00:00"))),
    (SINGLE, '["api_call"]'),
    (SINGLE, "{not json"),
    (SINGLE, '{"event_name": NaN}'),
    (SINGLE, b'{"event_name": "\xff"}'),
    (BATCH, '{"events": [' + json.dumps(event("x", event_name=None)) + "]}"),
    (BATCH, '"events"'),
    (BATCH, '{"events": []}'),
    (BATCH, '{"event": []}'),
    (BATCH, json.dumps({"events": [event(f"e{n}") for n in range(1001)]})),
    # Refused by the careful path after metering.batch_decoder declined the body.
    (BATCH, json.dumps({"events": [event("x", event_name="api\u0000call")]})),
    (BATCH, '{"events": [' + json.dumps(event("x"))[:-1] + ', "n": 1e16}]}'),
    (BATCH, json.dumps({"events": [event("x", properties={"n": "2000000000000000"})]})),
]


@pytest.mark.parametrize(("path", "body"), REFUSED_BODIES)
def test_refused_bodies_are_the_same_400(key, path, body):
    fast, full = both(lambda way: send(key, path, body))
    assert_same(fast, full, answered_fast=True)
    assert fast.status_code == 400
    assert not Event.objects.exists()


def test_a_body_over_the_limit_is_the_same_413(key, monkeypatch):
    from metering import api

    monkeypatch.setattr(api, "MAX_BODY_BYTES", 1000)
    fast, full = both(lambda way: send(key, BATCH, batch(*range(20))))
    assert_same(fast, full, answered_fast=True)
    assert fast.status_code == 413 and "larger than" in fast.json()["detail"]
    assert not Event.objects.exists()


def test_a_revoked_key_is_refused_on_its_very_next_request(key):
    assert send(key, SINGLE, single("before")).status_code == 202
    ApiKey.objects.update(revoked_at=timezone.now())
    fast, full = both(lambda way: send(key, SINGLE, single(f"after-{way}")))
    assert_same(fast, full, answered_fast=False)
    assert fast.status_code == 401
    assert fast["WWW-Authenticate"] == "Bearer"
    assert list(Event.objects.values_list("event_id", flat=True)) == ["before"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tally_not_a_key", "Bearer", "Basic dXNlcjpwYXNz", "Bearer two words"],
    ids=["no key", "unknown key", "no value", "other scheme", "malformed"],
)
def test_missing_or_wrong_keys_are_the_same_401(key, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    fast, full = both(lambda way: send(None, SINGLE, single(f"x-{way}"), **extra))
    assert_same(fast, full, answered_fast=False)
    assert fast.status_code == 401
    assert not Event.objects.exists()


def test_a_read_key_is_the_same_403_and_an_ingest_key_may_send(db):
    read_key = api_key_create(name="reader", scope=ApiKeyScope.READ)[1]
    fast, full = both(lambda way: send(read_key, SINGLE, single(f"r-{way}")))
    assert_same(fast, full, answered_fast=False)
    assert fast.status_code == 403 and "'read' scope" in fast.json()["detail"]
    ingest_key = api_key_create(name="ingester", scope=ApiKeyScope.INGEST)[1]
    fast, full = both(lambda way: send(ingest_key, BATCH, batch(f"i-{way}")))
    assert_same(fast, full, answered_fast=True)
    assert fast.status_code == 202
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["i-fast", "i-full"]


@pytest.mark.parametrize(
    ("method", "content_type", "body", "status"),
    [
        ("get", "application/json", "", 405),
        ("put", "application/json", single("x"), 405),
        ("post", "text/plain", "event_name=a", 415),
        ("post", "application/json", "", 400),  # an empty body is {} for DRF: field errors
    ],
)
def test_other_methods_types_and_empty_bodies_are_left_to_drf(
    key, method, content_type, body, status
):
    fast, full = both(lambda way: send(key, SINGLE, body, method=method, content_type=content_type))
    assert_same(fast, full, answered_fast=False)
    assert fast.status_code == status


def test_a_query_string_or_another_accept_is_left_to_drf(key):
    fast, full = both(lambda way: send(key, SINGLE + "?format=json", single(f"q-{way}")))
    assert_same(fast, full, answered_fast=False)
    fast, full = both(lambda way: send(key, SINGLE, single(f"h-{way}"), HTTP_ACCEPT="text/html"))
    assert_same(fast, full, answered_fast=False)
    assert fast.status_code == 406


def test_an_unknown_host_is_the_same_400(key):
    fast, full = both(lambda way: send(key, SINGLE, single(f"x-{way}"), HTTP_HOST="evil.example"))
    assert (fast.status_code, fast.content) == (full.status_code, full.content)
    assert fast.status_code == 400
    # The same headers, and X-Frame-Options too (the full stack refuses the host above it).
    assert dict(fast.headers) == {**full.headers, "X-Frame-Options": "DENY"}
    assert not Event.objects.exists()


def test_the_rate_limit_counts_fast_requests_and_answers_the_same_429(key, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/day"})
    assert send(key, SINGLE, single("a")).status_code == 202
    assert send(key, BATCH, batch("b")).status_code == 202
    fast, full = both(lambda way: send(key, SINGLE, single(f"c-{way}")))
    assert_same(fast, full, answered_fast=False, throttled=True)
    assert fast.status_code == 429
    assert 0 < int(fast["Retry-After"]) <= 86400 and 0 < int(full["Retry-After"]) <= 86400
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b"]


def test_an_address_guessing_keys_is_refused_even_with_a_good_key(key, monkeypatch):
    monkeypatch.setattr(FailedAuthThrottle, "THROTTLE_RATES", {"failed_auth": "1/day"})
    assert send("tally_wrong", SINGLE, single("x")).status_code == 401
    fast, full = both(lambda way: send(key, SINGLE, single(f"g-{way}")))
    assert_same(fast, full, answered_fast=False, throttled=True)
    assert fast.status_code == 429
    assert not Event.objects.exists()


def test_the_fast_path_records_the_keys_use(key):
    assert ApiKey.objects.get().last_used_at is None
    assert send(key, SINGLE, single("used")).status_code == 202
    assert ApiKey.objects.get().last_used_at is not None


def test_later_answers_of_one_server_carry_the_same_headers(key):
    """The CSP and X-Frame-Options headers are asked of their middleware once per path and
    status, then copied: the second and third answers of one stack are compared too."""
    fast_client, full_client = APIClient(), APIClient()
    for client in (fast_client, full_client):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for n in range(3):
        for path, body in ((SINGLE, single), (BATCH, lambda event_id: "{not json")):
            fast = fast_client.post(path, data=body(f"f{n}"), content_type="application/json")
            with modify_settings(MIDDLEWARE={"remove": [FAST_PATH]}):
                full = full_client.post(path, data=body(f"s{n}"), content_type="application/json")
            assert_same(fast, full, answered_fast=True)
