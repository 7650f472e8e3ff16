"""Helpers for the metering tests: a fixed clock and events stored through the real service."""

import json
from datetime import UTC, datetime

import pytest

from metering.services import events_ingest
from metering.validation import loads

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def store(db):
    """store(events as dicts, or a JSON string of a list) → IngestResult, as the API would."""

    def _store(events, *, at: datetime = NOW):
        payloads = loads(events if isinstance(events, str) else json.dumps(events))
        return events_ingest(payloads=payloads, at=at)

    return _store
