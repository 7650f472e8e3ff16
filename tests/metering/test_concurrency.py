"""Two requests with the same events at the same moment store them once (PostgreSQL)."""

import json
import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from billing.services import api_key_create
from metering.models import Event, EventKey, RollupDirtyBucket
from metering.services import _store_rows
from metering.validation import EventRow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post_together(path: str, bodies: list[str], raw_key: str) -> list:
    """Post each body from its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def worker(position: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        try:
            barrier.wait(timeout=10)
            responses[position] = client.post(
                path, data=bodies[position], content_type="application/json"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return responses


def _event(event_id: str) -> dict:
    return {"event_id": event_id, "event_name": "api_call", "external_customer_id": "acme"}


def test_same_single_event_from_eight_requests_at_once_is_stored_once():
    _, raw_key = api_key_create(name="concurrency")
    for round_number in range(5):
        body = json.dumps(_event(f"same-{round_number}"))
        responses = _post_together("/api/v1/events", [body] * 8, raw_key)
        assert [response.status_code for response in responses] == [202] * 8
        results = [response.json() for response in responses]
        assert sum(result["accepted"] for result in results) == 1
        assert sum(result["duplicates"] for result in results) == 7
    assert Event.objects.count() == 5


def test_overlapping_batches_at_once_store_each_event_once():
    _, raw_key = api_key_create(name="concurrency")
    first = json.dumps({"events": [_event(f"e{n}") for n in range(0, 600)]})
    second = json.dumps({"events": [_event(f"e{n}") for n in range(300, 900)]})
    responses = _post_together("/api/v1/events/batch", [first, second], raw_key)
    assert [response.status_code for response in responses] == [202, 202]
    results = [response.json() for response in responses]
    assert sum(result["accepted"] for result in results) == 900
    assert sum(result["duplicates"] for result in results) == 300
    assert Event.objects.count() == 900


def _stored() -> tuple[int, int, int]:
    return Event.objects.count(), EventKey.objects.count(), RollupDirtyBucket.objects.count()


def test_outside_a_transaction_a_batch_the_database_refuses_stores_nothing():
    """On PostgreSQL a batch is one statement, run in autocommit when no transaction is open:
    when the database refuses one row, the keys, events and rollup marks of the others are not
    stored either, and the same events can then be sent again."""
    at = timezone.now()
    earlier = at - timedelta(hours=2)  # an earlier hour: the event brings a rollup mark
    good = EventRow("e-1", "api_call", "acme", earlier, '{"tokens": 5}')
    refused = EventRow("e-2", "api_call", "acme", earlier, '{"tokens": ')  # jsonb refuses it
    assert connection.get_autocommit()
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="json"):
        _store_rows([good, refused], received_at=at)
    assert _stored() == (0, 0, 0)
    assert _store_rows([good], received_at=at) == 1
    assert _stored() == (1, 1, 1)


def test_a_batch_holding_a_stored_event_stores_the_others_and_marks_them_once():
    """A batch first sends its keys without ON CONFLICT (docs/performance.md); a stored key
    makes that attempt store nothing, and the batch is sent again skipping the stored ones."""
    at = timezone.now()
    earlier = at - timedelta(hours=2)
    first = EventRow("e-1", "api_call", "acme", earlier, '{"tokens": 5}')
    assert _store_rows([first], received_at=at) == 1
    assert _stored() == (1, 1, 1)
    # Keys are sorted before they are inserted: the stored key comes last, after two keys
    # the first attempt inserted before it failed.
    batch = [
        EventRow("e-0", "api_call", "acme", earlier, '{"tokens": 1}'),
        EventRow("e-00", "api_call", "acme", earlier, '{"tokens": 2}'),
        first,
    ]
    assert _store_rows(batch, received_at=at) == 2
    assert _stored() == (3, 3, 2)  # one mark each time the hour was written
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["e-0", "e-00", "e-1"]
    assert _store_rows(batch, received_at=at) == 0  # the whole batch again: all stored
    assert _stored() == (3, 3, 2)


def test_inside_a_transaction_a_batch_holding_a_stored_event_leaves_it_usable():
    """The first attempt runs under a savepoint there: its failure rolls back to it, and the
    transaction goes on (and still rolls back as a whole)."""
    at = timezone.now()
    stored = EventRow("e-1", "api_call", "acme", at, "{}")
    assert _store_rows([stored], received_at=at) == 1
    batch = [stored, EventRow("e-2", "api_call", "acme", at, "{}")]
    with transaction.atomic():
        assert _store_rows(batch, received_at=at) == 1
        assert Event.objects.count() == 2
    assert _stored()[:2] == (2, 2)
    with pytest.raises(RuntimeError, match="operator cancelled"):
        with transaction.atomic():
            assert (
                _store_rows([*batch, EventRow("e-3", "api_call", "acme", at, "{}")], received_at=at)
                == 1
            )
            raise RuntimeError("operator cancelled")
    assert _stored()[:2] == (2, 2)
