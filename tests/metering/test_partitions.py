"""The events table partitioned by month on PostgreSQL (docs/scaling.md, "Partitioned events")."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing.errors import AppError
from invoices.selectors import events_unbilled_reason
from metering.models import Event, EventKey
from metering.partitions import (
    DEFAULT,
    partition_create,
    partition_name,
    partitioned,
    partitions_detach,
    partitions_ensure,
    partitions_list,
)
from metering.selectors import usage_for_period
from metering.services import event_exclude
from tests.factories import FinalizedInvoiceFactory, MeterFactory, SubscriptionFactory

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)


def unbilled(start: datetime, end: datetime) -> str:
    """The rule the command applies (invoices.selectors.events_unbilled_reason)."""
    return events_unbilled_reason(start=start, end=end, at=datetime.now(UTC))


def event(event_id, timestamp, *, customer="acme", name="api_call", **properties):
    return {
        "event_id": event_id,
        "event_name": name,
        "external_customer_id": customer,
        "timestamp": timestamp,
        "properties": properties,
    }


def partition_of(event_id: str, customer: str = "acme") -> str:
    """Which table holds the event: its row's tableoid, as PostgreSQL routed it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM metering_event "
            "WHERE external_customer_id = %s AND event_id = %s",
            [customer, event_id],
        )
        return [name for (name,) in cursor.fetchall()][0]


def attached() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'metering_event'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.postgres
def test_the_events_table_is_partitioned_with_a_default(db):
    assert partitioned()
    assert DEFAULT in attached()
    # The migration created this month's partition and the next three.
    now = datetime.now(UTC)
    current = date(now.year, now.month, 1)
    assert partition_name(current) in attached()


@pytest.mark.postgres
def test_events_land_in_their_months_partition(store):
    partition_create(month=FEB)
    partition_create(month=MAR)
    result = store(
        [
            event("feb", "2026-02-28T23:59:59.999999Z"),
            event("mar", "2026-03-01T00:00:00Z"),
            event("jan", "2026-01-10T00:00:00Z"),  # no January partition: the default
        ]
    )
    assert (result.accepted, result.duplicates) == (3, 0)
    assert partition_of("feb") == "metering_event_y2026m02"
    assert partition_of("mar") == "metering_event_y2026m03"
    assert partition_of("jan") == DEFAULT
    assert Event.objects.count() == 3


@pytest.mark.postgres
def test_a_duplicate_across_two_months_is_refused(store):
    partition_create(month=FEB)
    partition_create(month=MAR)
    assert store([event("e1", "2026-02-10T00:00:00Z")]).accepted == 1
    # The same id, another month (another partition): still the same event.
    again = store([event("e1", "2026-03-10T00:00:00Z", customer="acme")])
    assert (again.accepted, again.duplicates) == (0, 1)
    # ...also within one batch, and the first of the batch is the one kept.
    batch = store([event("e2", "2026-03-02T00:00:00Z"), event("e2", "2026-02-02T00:00:00Z")])
    assert (batch.accepted, batch.duplicates) == (1, 1)
    assert partition_of("e2") == "metering_event_y2026m03"
    # Another customer may use the same id.
    assert store([event("e1", "2026-02-10T00:00:00Z", customer="globex")]).accepted == 1
    assert Event.objects.filter(event_id="e1").count() == 2
    assert EventKey.objects.count() == 3


@pytest.mark.postgres
def test_the_schedule_creates_partitions_ahead_idempotently(db):
    at = datetime(2031, 11, 20, tzinfo=UTC)
    created = partitions_ensure(at=at)
    assert created == [
        "metering_event_y2031m11",
        "metering_event_y2031m12",
        "metering_event_y2032m01",
        "metering_event_y2032m02",
    ]
    assert partitions_ensure(at=at) == []
    assert set(created) <= attached()
    from metering.tasks import event_partitions_task

    assert event_partitions_task().startswith("0 event partition(s) created")


@pytest.mark.postgres
def test_the_default_partition_catches_far_past_and_future_and_is_split_later(store):
    far_future = datetime(2031, 6, 1, tzinfo=UTC)
    assert store([event("old", "2021-12-31T23:00:00Z")]).accepted == 1
    assert store([event("future", "2031-06-01T00:01:00Z")], at=far_future).accepted == 1
    assert partition_of("old") == partition_of("future") == DEFAULT
    # Creating the month's partition moves its events out of the default one.
    assert partition_create(month=date(2031, 6, 1))
    assert partition_of("future") == "metering_event_y2031m06"
    assert partition_of("old") == DEFAULT
    out = io.StringIO()
    call_command("event_partitions", stdout=out)
    assert "metering_event_y2031m06\t1" in out.getvalue()
    assert f"{DEFAULT}\t1" in out.getvalue()


@pytest.mark.postgres
def test_detaching_an_old_month_keeps_current_usage_exact(store, tmp_path):
    meter = MeterFactory(event_name="api_call", aggregation="sum", field="tokens")
    subscription = SubscriptionFactory(
        started_at=datetime(2026, 3, 1, tzinfo=UTC), at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    for month in (JAN, FEB, MAR):
        partition_create(month=month)
    store(
        [
            event("j1", "2026-01-05T00:00:00Z", tokens="1.5"),
            event("f1", "2026-02-27T00:00:00Z", tokens="2"),
            event("m1", "2026-03-02T00:00:00Z", tokens="0.1"),
            event("m2", "2026-03-14T00:00:00Z", tokens="0.2"),
        ]
    )
    march = {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 4, 1, tzinfo=UTC)}
    before = usage_for_period(meter=meter, external_customer_id="acme", **march)

    # January's invoice, issued just now: the daily verification will read its events.
    invoice = FinalizedInvoiceFactory(
        subscription=subscription, customer=subscription.customer, issued_at=datetime.now(UTC)
    )
    with pytest.raises(CommandError, match="2026-01 cannot be detached: 1 invoice"):
        call_command("event_partitions", detach_before="2026-03", drop=True)
    invoice.issued_at = datetime.now(UTC) - timedelta(days=3)
    invoice.save(update_fields=["issued_at"])

    out = io.StringIO()
    call_command("event_partitions", detach_before="2026-03", archive_dir=str(tmp_path), stdout=out)
    assert "detached metering_event_y2026m01 (1 events), archived to" in out.getvalue()
    assert "detached metering_event_y2026m02 (1 events), archived to" in out.getvalue()
    assert {p.month for p in partitions_list()} >= {MAR}
    assert {JAN, FEB}.isdisjoint({p.month for p in partitions_list()})
    archive = (tmp_path / "metering_event_y2026m02.csv").read_text()
    assert "f1" in archive and archive.startswith("id,event_id,")

    after = usage_for_period(meter=meter, external_customer_id="acme", **march)
    assert after.quantity == before.quantity == Decimal("0.3")
    # The detached events are gone from reads, but their keys stay: sent again, a duplicate.
    assert not Event.objects.filter(event_id__in=["j1", "f1"]).exists()
    assert store([event("f1", "2026-02-27T00:00:00Z", tokens="2")]).duplicates == 1


@pytest.mark.postgres
def test_a_month_with_an_unbilled_period_is_not_detached(store):
    for month in (JAN, FEB):
        partition_create(month=month)
    feb = datetime(2026, 2, 10, tzinfo=UTC)
    subscription = SubscriptionFactory(started_at=feb, at=feb)
    store([event("f1", "2026-02-11T00:00:00Z")])
    with pytest.raises(AppError, match="2026-02 cannot be detached: 1 subscription"):
        partitions_detach(before=MAR, hold=unbilled, drop=True)
    # Nothing was detached, not even January (all or nothing).
    assert {partition_name(JAN), partition_name(FEB)} <= attached()
    with pytest.raises(CommandError, match=f"subscription {subscription.pk}"):
        call_command("event_partitions", detach_before="2026-03", drop=True)
    # January alone may go; kept as a plain table, its month is not created again over it.
    assert [d.name for d in partitions_detach(before=FEB, hold=unbilled)] == [partition_name(JAN)]
    with pytest.raises(AppError, match="A detached table metering_event_y2026m01 exists"):
        partition_create(month=JAN)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {partition_name(JAN)}")
    assert partition_create(month=JAN)
    assert [d.name for d in partitions_detach(before=FEB, hold=unbilled, drop=True)] == [
        partition_name(JAN)
    ]
    assert partition_name(JAN) not in attached()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition_name(JAN)])
        assert cursor.fetchone()[0] is None  # dropped


@pytest.mark.postgres
def test_the_current_month_is_never_detached(db):
    now = datetime.now(UTC)
    with pytest.raises(AppError, match="the month has not ended"):
        partitions_detach(before=date(now.year + 1, 1, 1), hold=unbilled)


@pytest.mark.postgres
def test_an_event_in_a_partition_can_be_excluded(store):
    partition_create(month=FEB)
    store([event("f1", "2026-02-11T00:00:00Z")])
    stored = Event.objects.get(event_id="f1")
    excluded = event_exclude(event=stored, reason="bad", by="ops", at=datetime.now(UTC))
    assert Event.objects.get(pk=excluded.pk).excluded_reason == "bad"
    assert partition_of("f1") == "metering_event_y2026m02"


@pytest.mark.postgres
def test_the_command_refuses_bad_months(db):
    with pytest.raises(CommandError, match="Give a month as YYYY-MM"):
        call_command("event_partitions", create="2026-13")
    with pytest.raises(CommandError, match="go with --detach-before"):
        call_command("event_partitions", drop=True)


def test_on_sqlite_the_table_is_plain_and_the_command_says_so(store):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's plain table")
    assert not partitioned() and partitions_ensure(at=datetime.now(UTC)) == []
    assert store([event("e1", "2026-02-10T00:00:00Z")]).accepted == 1
    assert store([event("e1", "2026-03-10T00:00:00Z")]).duplicates == 1
    assert not EventKey.objects.exists()  # the events table's own unique constraint dedups
    with pytest.raises(CommandError, match="not partitioned"):
        call_command("event_partitions", detach_before="2026-01")
