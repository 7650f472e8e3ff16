"""Refreshing rollups while events land never loses or double-counts an event (PostgreSQL)."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from metering.models import RollupCoverage
from metering.rollups import rollups_check, rollups_rebuild, rollups_refresh
from metering.selectors import Usage, usage_for_period
from metering.services import events_ingest
from tests.factories import MeterFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 3, 1, tzinfo=UTC)
AT = datetime(2026, 3, 10, tzinfo=UTC)


def _batch(round_number: int, writer: int) -> list[dict]:
    return [
        {
            "event_id": f"{writer}-{round_number}-{index}",
            "event_name": "call",
            "external_customer_id": "acme",
            # Its own hour per batch: a mark lost by a refresh would leave that hour stale.
            "timestamp": (
                START + timedelta(hours=round_number * 2 + writer, minutes=index)
            ).isoformat(),
            "properties": {"v": "0.1"},
        }
        for index in range(20)
    ]


def test_events_landing_during_refreshes_are_all_counted_once():
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    rollups_rebuild(meter=meter, at=AT)
    rounds, writers = 6, 2
    errors: list[BaseException] = []
    done = threading.Event()

    def write(writer: int) -> None:
        try:
            for round_number in range(rounds):
                events_ingest(payloads=_batch(round_number, writer), at=AT)
                # Each event again: duplicates must never count.
                events_ingest(payloads=_batch(round_number, writer), at=AT)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    def refresh() -> None:
        try:
            while not done.is_set():
                rollups_refresh(at=AT)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    refresher = threading.Thread(target=refresh)
    refresher.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    refresher.join(timeout=60)
    assert errors == []

    total = rounds * writers * 20
    expected = Usage(Decimal("0.1") * total, total)
    end = START + timedelta(days=2)
    assert RollupCoverage.objects.filter(meter=meter).exists()
    read = usage_for_period(meter=meter, external_customer_id="acme", start=START, end=end)
    assert read == expected  # exact before the last refresh (dirty hours read raw)...
    rollups_refresh(at=AT)
    assert rollups_check() == []  # ...and the rollups alone agree after it
    read = usage_for_period(meter=meter, external_customer_id="acme", start=START, end=end)
    assert read == expected
