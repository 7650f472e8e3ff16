"""Sealed hours: on PostgreSQL an on-time event marks no hour dirty; its hour is read from raw
events until the refresh task seals it, recomputing the customers that received events in it
(docs/scaling.md, "Sealed hours")."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction

from metering import rollups
from metering.models import RollupCoverage, RollupDirtyBucket, RollupHorizon, UsageRollup
from metering.rollups import (
    HOUR,
    hour_floor,
    rollups_check,
    rollups_horizon,
    rollups_rebuild,
    rollups_refresh,
    rollups_seal,
)
from metering.selectors import Usage, usage_for_period, usage_for_windows
from metering.services import events_ingest
from metering.validation import loads
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def database_now() -> datetime:
    """The database's clock as ingestion's statement sees it (the transaction's start)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0].astimezone(UTC)


def away_from_the_hour() -> None:
    """A test that sends events 'now' must not straddle an hour boundary."""
    now = datetime.now(UTC)
    if now - hour_floor(now) < timedelta(seconds=5) or hour_floor(now) + HOUR - now < timedelta(
        seconds=5
    ):
        time.sleep(10)


def send(events: list[dict], *, at: datetime) -> None:
    events_ingest(payloads=loads(json.dumps(events)), at=at)


def event(event_id: str, moment: datetime, value: str, customer: str = "acme") -> dict:
    return {
        "event_id": event_id,
        "event_name": "call",
        "external_customer_id": customer,
        "timestamp": moment.isoformat(),
        "properties": {"v": value},
    }


def usage(meter, start, end, customer="acme") -> Usage:
    return usage_for_period(meter=meter, external_customer_id=customer, start=start, end=end)


@pytest.mark.postgres
def test_an_on_time_event_marks_no_hour_and_a_late_or_early_one_does():
    away_from_the_hour()
    now = database_now()
    send([event("on-time", now, "1")], at=now)
    assert RollupDirtyBucket.objects.count() == 0

    send([event("last-hour", now - HOUR, "1")], at=now)
    assert list(RollupDirtyBucket.objects.values_list("bucket_start", flat=True)) == [
        hour_floor(now - HOUR)
    ]
    # Received "now" by a clock a day behind the database's: marked, whatever the timestamp.
    send([event("skewed", now - timedelta(days=1), "1")], at=now - timedelta(days=1))
    assert RollupDirtyBucket.objects.count() == 2


@pytest.mark.postgres
def test_hours_not_sealed_are_read_raw_and_sealing_puts_on_time_events_in_the_rollups():
    away_from_the_hour()
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    count = MeterFactory(event_name="call", aggregation="count")
    rollups_rebuild(meter=meter, at=datetime.now(UTC))
    rollups_rebuild(meter=count, at=datetime.now(UTC))
    now = database_now()
    hour = hour_floor(now)
    start, end = hour - 3 * HOUR, hour + HOUR
    # Earlier hours: their events marked and recomputed as before.
    send([event("old", hour - 2 * HOUR, "2.5"), event("old-b", hour - HOUR, "4", "globex")], at=now)
    rollups_refresh(at=now)
    # On time: no mark, and the current hour is not sealed yet.
    send([event("a", now, "0.1"), event("b", now, "0.2", "globex")], at=now)
    assert RollupDirtyBucket.objects.count() == 0
    assert rollups_horizon() <= hour
    assert usage(meter, start, end) == Usage(Decimal("2.6"), 2)

    # The hour is over (the database's clock, simulated): the task seals it.
    with mock.patch.object(rollups, "seal_limit", return_value=hour + HOUR):
        result = rollups_refresh(at=now)
    assert result.sealed >= 1 and rollups_horizon() == hour + HOUR
    assert UsageRollup.objects.filter(meter=meter, bucket_start=hour).count() == 2
    # Whole hours, the sealed one included, now come from rollups: the same figures.
    assert usage(meter, start, end) == Usage(Decimal("2.6"), 2)
    assert usage(meter, start, end, "globex") == Usage(Decimal("4.2"), 2)
    windows = [(meter, start, end), (count, start, end)]
    batched = usage_for_windows(external_customer_id="acme", windows=windows)
    assert rollups_check() == []

    # Proof that the rollup, not a raw read, answered: corrupt it and the read follows.
    UsageRollup.objects.filter(meter=meter, bucket_start=hour, external_customer_id="acme").update(
        quantity_sum=Decimal("9")
    )
    assert usage(meter, start, end) == Usage(Decimal("11.5"), 2)
    assert [mismatch.bucket_start for mismatch in rollups_check()] == [hour]
    RollupCoverage.objects.all().delete()  # raw from here on
    assert usage(meter, start, end) == Usage(Decimal("2.6"), 2)
    assert batched == usage_for_windows(external_customer_id="acme", windows=windows)


@pytest.mark.postgres
def test_without_a_horizon_everything_is_raw_and_sealing_starts_at_the_first_event_received():
    away_from_the_hour()
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    rollups_rebuild(meter=meter, at=datetime.now(UTC))
    now = database_now()
    hour = hour_floor(now)
    send([event("a", now, "1.5")], at=now)
    RollupHorizon.objects.all().delete()
    assert usage(meter, hour - HOUR, hour + HOUR) == Usage(Decimal("1.5"), 1)

    with mock.patch.object(rollups, "seal_limit", return_value=hour + HOUR):
        # From the hour of the first event received, less 15 minutes' margin, to this one.
        assert rollups_seal(at=now) == (hour + HOUR - hour_floor(now - 15 * MINUTE)) // HOUR
    assert rollups_horizon() == hour + HOUR
    assert UsageRollup.objects.get(meter=meter, bucket_start=hour).quantity_sum == Decimal("1.5")
    assert usage(meter, hour - HOUR, hour + HOUR) == Usage(Decimal("1.5"), 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_holds_the_seal_back_until_it_ends():
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        password=settings["PASSWORD"] or None,
    )
    try:
        other.execute("SELECT 1")  # a transaction is open now
        began = other.execute("SELECT now()").fetchone()[0]
        with transaction.atomic():
            assert rollups.oldest_open_transaction() == began
            other.rollback()
            # The same transaction asks again: pg_stat_activity is not its cached view.
            assert rollups.oldest_open_transaction() is None
    finally:
        other.close()
    # Nothing open: the current hour's start, once a minute has passed since it.
    assert rollups.seal_limit() == hour_floor(database_now() - MINUTE)


def test_the_horizon_never_moves_back():
    ahead = hour_floor(datetime.now(UTC)) + 2 * HOUR
    RollupHorizon.objects.update_or_create(pk=1, defaults={"sealed_until": ahead})
    assert rollups_seal(at=datetime(2020, 1, 1, tzinfo=UTC)) == 0
    assert rollups_horizon() == ahead
