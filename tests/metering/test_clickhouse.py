"""ClickHouse as the event store (EVENTS_BACKEND=clickhouse; docs/scaling.md, "ClickHouse").

The property test runs one random stream (duplicates, late arrivals, bucket edges, filters,
group_by, exclusions, syncs run or not, rows written twice to ClickHouse) and compares every
usage read six ways: the database's raw events, the database's rollups, one ClickHouse
server and a Distributed table over two ClickHouse shards, each through ClickHouse's hourly
rollups and from its raw events. The other tests pin the
mechanics one by one. All skip when no ClickHouse answers (scripts/clickhouse_local.sh).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from unittest import mock

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from metering import clickhouse as store
from metering.clickhouse import (
    clickhouse_backfill,
    clickhouse_sync,
    events_write,
    flatten,
    stored_number,
)
from metering.clickhouse_rollups import clickhouse_rollups_check, clickhouse_rollups_rebuild
from metering.models import ClickHouseOutbox, ClickHouseRollupCoverage, Event, RollupCoverage
from metering.rollups import rollups_rebuild, rollups_refresh
from metering.selectors import (
    Usage,
    usage_by_customer,
    usage_by_group,
    usage_for_period,
    usage_for_windows,
    usage_series,
)
from metering.selectors import clickhouse_usage as reads_module
from metering.services import event_exclude
from tests.clickhouse_support import clickhouse_store, require_clickhouse
from tests.factories import MeterFactory
from tests.metering.test_rollups import AT, BASE, CUSTOMERS, event, ingest, minutes, windows

MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))

pytestmark = pytest.mark.clickhouse


def acme(meter, start=MONTH[0], end=MONTH[1]) -> Usage:
    return usage_for_period(meter=meter, external_customer_id="acme", start=start, end=end)


# --- one random stream, four stores ------------------------------------------------------

values = st.one_of(
    st.integers(-5, 1000),
    st.sampled_from(
        [
            "0.1",
            "0.2",
            "2.25",
            "1.50",
            "123456789012345.891",
            "-0.5",
            "lots",
            "1e2",
            "0.0000000000000000001",  # 19 decimals: beyond the chunks, summed from its text
            "999999999999999.999999999999999999999",  # the largest bound, 21 decimals
        ]
    ),
    st.none(),
)


@st.composite
def stream_events(draw):
    properties = {}
    value = draw(values)
    if value is not None:
        properties["v"] = value
    region = draw(st.sampled_from(["eu", "us", None]))
    if region is not None:
        properties["region"] = region
    user = draw(st.sampled_from(["ann", "bob", "cy", None]))
    if user is not None:
        properties["user"] = {"name": user}
    return {
        "event_id": str(draw(st.integers(0, 40))),  # small ids: duplicates are frequent
        "event_name": draw(st.sampled_from(["call", "call", "other"])),
        "external_customer_id": draw(st.sampled_from(CUSTOMERS)),
        "timestamp": (BASE + timedelta(minutes=draw(minutes))).isoformat(),
        "properties": properties,
    }


METERS = [
    {"aggregation": "count"},
    {"aggregation": "sum", "field": "v", "filters": {"region": ["eu"]}, "group_by": "region"},
    {"aggregation": "sum", "field": "v"},
    {"aggregation": "min", "field": "v"},
    {"aggregation": "max", "field": "v", "group_by": "region"},
    {"aggregation": "avg", "field": "v"},
    {"aggregation": "latest", "field": "v", "group_by": "region"},
    {"aggregation": "unique_count", "field": "user.name", "group_by": "region"},
    {"aggregation": "count", "filters": {"region": ["us", "eu"]}, "group_by": "user.name"},
]


def every_read(meter, window) -> dict:
    start, end = window
    one = {"meter": meter, "external_customer_id": "acme", "start": start, "end": end}
    return {
        "period": usage_for_period(**one),
        "customers": usage_by_customer(
            meter=meter, external_customer_ids=CUSTOMERS, start=start, end=end
        ),
        "groups": usage_by_group(**one),
        "other groups": usage_by_group(**one, group_by="user.name"),
        "hours": usage_series(**one, bucket="hour"),
        "days": usage_series(**one, bucket="day"),
    }


def sync_both() -> None:
    """The sync into both stores: the sharded one is written first (the outbox rows survive
    it), then the single server's sync writes them and empties the outbox."""
    queued = ClickHouseOutbox.objects.values_list("event_pk", flat=True)
    with clickhouse_store_settings(cluster=True):
        events_write(Event.objects.filter(pk__in=queued))
    with clickhouse_store_settings(cluster=False):
        clickhouse_sync()


def clickhouse_store_settings(*, cluster: bool):
    from tests import clickhouse_support

    return override_settings(
        EVENTS_BACKEND="clickhouse",
        CLICKHOUSE_URL=clickhouse_support._url(cluster=cluster),
        CLICKHOUSE_CLUSTER=clickhouse_support.CLUSTER if cluster else "",
    )


class EveryStoreGivesTheSameUsage(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_clickhouse(cluster=True)

    @settings(max_examples=10, deadline=None)
    @given(
        batches=st.lists(st.lists(stream_events(), max_size=25), min_size=1, max_size=3),
        sync_after=st.lists(st.sampled_from(["none", "sync", "sync twice"]), min_size=3),
        built_after=st.integers(0, 3),  # ClickHouse's rollups built after this many batches
        exclude=st.one_of(st.none(), st.integers(0, 40)),
        sync_exclusion=st.booleans(),
        window=windows,
    )
    def test_raw_rollups_clickhouse_and_two_shards_agree(
        self, batches, sync_after, built_after, exclude, sync_exclusion, window
    ):
        with clickhouse_store(cluster=True), clickhouse_store():
            meters = [MeterFactory(event_name="call", **spec) for spec in METERS]
            for meter in meters:
                rollups_rebuild(meter=meter, at=AT)
            for number, (batch, sync) in enumerate(zip(batches, sync_after, strict=False)):
                if number == built_after:
                    build_clickhouse_rollups(meters)
                with clickhouse_store_settings(cluster=False):
                    ingest(batch)  # later batches: duplicates of earlier ids, late timestamps
                rollups_refresh(at=AT)
                if sync != "none":
                    sync_both()
                if sync == "sync twice":  # a sync that died before its commit: rows twice
                    with clickhouse_store_settings(cluster=False):
                        clickhouse_backfill()
                    with clickhouse_store_settings(cluster=True):
                        clickhouse_backfill()
            if built_after >= len(batches):
                build_clickhouse_rollups(meters)
            excluded = Event.objects.filter(external_customer_id="acme", event_id=str(exclude))
            if excluded.exists():
                with clickhouse_store_settings(cluster=False):
                    event_exclude(event=excluded.get(), reason="bad", by="test", at=AT)
                if sync_exclusion:
                    sync_both()

            through_rollups = every_meter_read(meters, window)
            stores = {}
            for cluster in (False, True):
                with clickhouse_store_settings(cluster=cluster):
                    assert clickhouse_rollups_check() == []
                    stores[cluster] = every_meter_read(meters, window)
            covered = list(ClickHouseRollupCoverage.objects.values_list("meter_id", "built_at"))
            ClickHouseRollupCoverage.objects.all().delete()  # ClickHouse's reads: raw events
            for cluster in (False, True):
                with clickhouse_store_settings(cluster=cluster):
                    stores[f"{cluster} raw"] = every_meter_read(meters, window)
            RollupCoverage.objects.all().delete()  # the database's reads now go to raw events
            raw = every_meter_read(meters, window)
            assert len(covered) == 8  # every meter but unique_count was read through rollups
            for index, spec in enumerate([*METERS, "every meter's window together"]):
                assert raw[index] == through_rollups[index], spec
                for name, found in stores.items():
                    assert raw[index] == found[index], (spec, name)


def every_meter_read(meters, window) -> list:
    """every_read of each meter, then usage_for_windows of all their windows together (the
    upcoming invoice's read)."""
    together = usage_for_windows(
        external_customer_id="acme", windows=[(meter, *window) for meter in meters]
    )
    return [*(every_read(meter, window) for meter in meters), together]


def build_clickhouse_rollups(meters) -> None:
    for cluster in (False, True):
        with clickhouse_store_settings(cluster=cluster):
            for meter in meters:
                clickhouse_rollups_rebuild(meter=meter, at=AT)


# --- the mechanics, one by one -----------------------------------------------------------


def test_sums_are_exact_to_the_last_digit_however_many_decimals(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    wide = "999999999999999." + "9" * 200  # the largest number accepted, 200 decimals
    ingest([event(1, 10, v="0.1"), event(2, 20, v="0.20"), event(3, 30, v=wide)])
    ingest([event(4, 40, v=str(10**15 - 1))])
    clickhouse_sync()
    assert not ClickHouseOutbox.objects.exists()
    with localcontext() as exact:
        exact.prec = 1000
        assert acme(meter) == Usage(Decimal(wide) + Decimal("0.3") + 10**15 - 1, 4)
    assert str(acme(meter).quantity) == "1999999999999999.2" + "9" * 199


def test_an_event_counts_at_once_before_the_sync_and_once_after_it(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=5)])
    clickhouse_sync()
    ingest([event(1, 10, v=100), event(2, 15, v=1)])  # a duplicate, a new event
    assert ClickHouseOutbox.objects.count() == 1  # the duplicate was never queued
    assert acme(meter) == Usage(Decimal("6"), 2)  # the new one is read from the database
    clickhouse_sync()
    clickhouse_backfill()  # every row written a second time: FINAL keeps one of each
    assert acme(meter) == Usage(Decimal("6"), 2)


def test_a_failed_sync_keeps_the_outbox_and_the_reads_exact(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="count")
    ingest([event(1, 10), event(2, 20)])
    with mock.patch.object(store, "client", side_effect=OSError("ClickHouse is down")):
        with pytest.raises(OSError):
            clickhouse_sync()
    assert ClickHouseOutbox.objects.count() == 2
    assert acme(meter) == Usage(Decimal("2"), 2)
    assert clickhouse_sync().written == 2
    assert acme(meter) == Usage(Decimal("2"), 2)


def test_an_excluded_event_stops_counting_in_clickhouse(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="max", field="v")
    ingest([event(1, 10, v=50), event(2, 20, v=3)])
    clickhouse_sync()
    event_exclude(event=Event.objects.get(event_id="1"), reason="bad", by="ops", at=AT)
    assert acme(meter) == Usage(Decimal("3"), 1)  # read from the outbox meanwhile
    clickhouse_sync()
    assert acme(meter) == Usage(Decimal("3"), 1)  # ClickHouse's excluded version won


def test_a_long_outbox_sends_reads_to_the_database(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="count")
    ingest([event(index, index) for index in range(5)])
    with mock.patch.object(reads_module, "MAX_PENDING", 3):
        with mock.patch.object(reads_module, "_Query", side_effect=AssertionError):
            assert acme(meter) == Usage(Decimal("5"), 5)


def test_unique_count_adds_only_the_outbox_values_clickhouse_lacks(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="unique_count", field="user")
    ingest([event(1, 10, user="a"), event(2, 70, user="b")])
    clickhouse_sync()
    ingest([event(3, 80, user="a"), event(4, 90, user="c")])
    assert acme(meter) == Usage(Decimal("3"), 4)


def test_the_sharded_store_spreads_customers_and_reads_them_whole(db, clickhouse_cluster):
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    customers = [f"customer-{index}" for index in range(20)]
    ingest([event(index, index, customer=name, v="0.5") for index, name in enumerate(customers)])
    clickhouse_sync()
    usages = usage_by_customer(
        meter=meter, external_customer_ids=customers, start=MONTH[0], end=MONTH[1]
    )
    assert usages == {name: Usage(Decimal("0.5"), 1) for name in customers}


def test_properties_are_flattened_as_a_meter_reads_them():
    texts, numbers = flatten(
        {"a": {"b": "1.50", "c": True}, "x.y": 3, "": 1, "n": -2, "m": None, "o": [1]}
    )
    assert texts == [
        ("a", '{"b": "1.50", "c": true}'),
        ("a.b", "1.50"),
        ("a.c", "true"),
        ("n", "-2"),
        ("o", "[1]"),
    ]
    assert [(path, number.text, number.scale) for path, number in numbers] == [("a.b", "1.50", 2)]
    assert stored_number(Decimal("1E+3")).text == "1000"
    assert stored_number(Decimal("-0.0")).text == "0.0"
    assert stored_number(Decimal("0.5")).chunks == (0, 0, 500_000_000, 0)
    assert stored_number(Decimal("1e18")).wide


def test_the_task_and_the_command_sync_the_outbox(db, clickhouse):
    from io import StringIO

    from django.core.management import call_command

    from metering.tasks import sync_clickhouse_task

    meter = MeterFactory(event_name="call", aggregation="count")
    ingest([event(1, 10), event(2, 20)])
    assert sync_clickhouse_task() == "2 events written to ClickHouse in 1 batches"
    ingest([event(3, 30)])
    output = StringIO()
    call_command("clickhouse_events", "--migrate", "--sync", stdout=output)
    assert "1 events written to ClickHouse in 1 batches" in output.getvalue()
    assert not ClickHouseOutbox.objects.exists()
    assert acme(meter) == Usage(Decimal("3"), 3)


def test_without_the_clickhouse_backend_nothing_is_queued_or_synced(db):
    from django.core.management import CommandError, call_command

    from metering.tasks import sync_clickhouse_task

    ingest([event(1, 10)])
    assert not ClickHouseOutbox.objects.exists()
    assert sync_clickhouse_task() == "EVENTS_BACKEND is not clickhouse: nothing to sync"
    with pytest.raises(CommandError, match="EVENTS_BACKEND is not clickhouse"):
        call_command("clickhouse_events", "--sync")


# --- ClickHouse's hourly rollups ---------------------------------------------------------


def stored_rollups(meter) -> list[tuple]:
    """The meter's rollup rows as reads see them: (hour, group, count), zeros left out."""
    from metering.clickhouse import client, database_name, rollups_table

    rows = client().execute(
        f"SELECT hour, group_value, event_count FROM {database_name()}.{rollups_table()} "
        "FINAL WHERE meter_id = %(meter)s AND event_count > 0 ORDER BY hour, group_value",
        {"meter": meter.pk},
        settings={"enable_optimize_predicate_expression": 0},
    )
    return [(store.from_micros(hour * 3_600_000_000), group, count) for hour, group, count in rows]


def test_whole_hours_are_read_from_the_rollups_and_the_edges_from_events(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="sum", field="v", group_by="region")
    ingest([event(1, 10, v=5, region="eu"), event(2, 70, v="0.5", region="us")])
    clickhouse_sync()
    clickhouse_rollups_rebuild(meter=meter, at=AT)
    hour = timedelta(hours=1)
    assert stored_rollups(meter) == [(MONTH[0], "eu", 1), (MONTH[0] + hour, "us", 1)]
    # A bogus newer row for the first hour: the window's whole hours read it, its edge does not.
    from metering.clickhouse import client, database_name, rollups_table

    client().execute(
        f"INSERT INTO {database_name()}.{rollups_table()} "
        "(customer, meter_id, definition, hour, group_has, group_value, version, event_count) "
        "SELECT customer, meter_id, definition, hour, group_has, group_value, version + 1, 7 "
        f"FROM {database_name()}.{rollups_table()} WHERE group_value = 'eu'"
    )
    assert acme(meter).event_count == 8  # 7 from the bogus rollup + 1
    assert acme(meter, start=MONTH[0] + timedelta(minutes=5)).event_count == 2  # all raw
    with override_settings(EVENTS_BACKEND="clickhouse"):
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError, match="1 ClickHouse rollup rows differ"):
            call_command("clickhouse_events", "--check-rollups")


def test_a_sync_recomputes_the_hours_it_wrote_and_an_exclusion_zeroes_a_group(db, clickhouse):
    meter = MeterFactory(event_name="call", aggregation="count", group_by="region")
    clickhouse_rollups_rebuild(meter=meter, at=AT)
    ingest([event(1, 10, region="eu"), event(2, 20, region="us"), event(3, 200, region="us")])
    assert stored_rollups(meter) == []  # not synced yet: read from the outbox
    assert acme(meter) == Usage(Decimal(3), 3)
    clickhouse_sync()
    assert stored_rollups(meter) == [
        (MONTH[0], "eu", 1),
        (MONTH[0], "us", 1),
        (MONTH[0] + timedelta(hours=3), "us", 1),
    ]
    event_exclude(event=Event.objects.get(event_id="1"), reason="bad", by="ops", at=AT)
    assert acme(meter) == Usage(Decimal(2), 2)  # its hour read raw while it is queued
    clickhouse_sync()
    assert stored_rollups(meter) == [(MONTH[0], "us", 1), (MONTH[0] + timedelta(hours=3), "us", 1)]
    assert acme(meter) == Usage(Decimal(2), 2)
    assert clickhouse_rollups_check() == []


def test_an_edited_meter_reads_raw_events_until_its_rollups_are_rebuilt(db, clickhouse):
    from io import StringIO

    from django.core.management import call_command

    meter = MeterFactory(code="calls", event_name="call", aggregation="max", field="v")
    ingest([event(1, 10, v=5, region="eu"), event(2, 70, v=9, region="us")])
    clickhouse_sync()
    output = StringIO()
    call_command("clickhouse_events", "--rebuild-rollups", stdout=output)
    assert "rebuilt: calls" in output.getvalue()
    assert acme(meter) == Usage(Decimal(9), 2)
    call_command("clickhouse_events", "--rebuild-rollups", stdout=output)  # built: nothing to do
    assert output.getvalue().count("rebuilt: calls") == 1
    meter.filters = {"region": ["eu"]}
    meter.save()
    with mock.patch.object(reads_module, "_figures_read", side_effect=AssertionError):
        assert acme(meter) == Usage(Decimal(5), 1)  # raw: the rollups are of the old definition
    call_command("clickhouse_events", "--rebuild-rollups", "--check-rollups", stdout=output)
    assert "ClickHouse rollups agree with the events." in output.getvalue()
    with mock.patch.object(
        reads_module, "_figures_read", wraps=reads_module._figures_read
    ) as figures:
        assert acme(meter) == Usage(Decimal(5), 1)
    assert figures.called  # read through the rebuilt rollups


def test_every_meters_window_is_one_read_of_the_rollups_and_one_of_each_meters_edges(
    db, clickhouse
):
    """The upcoming invoice's read (usage_for_windows) and a customer's total are one ClickHouse
    statement: a top-level UNION ALL of one read of the rollup table for every meter and one
    read of the events for each meter's edges, one subquery level each. On ClickHouse 18 each
    table read and each level of subquery has a fixed cost larger than reading a customer's
    rollups (docs/performance.md, "The upcoming invoice on ClickHouse")."""
    from metering.clickhouse import rollups_table

    count = MeterFactory(event_name="call", aggregation="count")
    total = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=5), event(2, 70, v="0.5"), event(3, 80, name="other", v=1)])
    clickhouse_sync()
    for meter in (count, total):
        clickhouse_rollups_rebuild(meter=meter, at=AT)
    start, end = MONTH[0] + timedelta(minutes=5), MONTH[1]  # event 1 in the raw edge
    statements = []
    real_client = reads_module.client

    class Recording:
        def execute(self, sql, *args, **kwargs):
            statements.append(sql)
            return real_client().execute(sql, *args, **kwargs)

    with mock.patch.object(reads_module, "client", Recording):
        found = usage_for_windows(
            external_customer_id="acme", windows=[(count, start, end), (total, start, end)]
        )
        assert acme(total, start=start) == Usage(Decimal("5.5"), 2)
    assert found == {
        (count.pk, start, end): Usage(Decimal(2), 2),
        (total.pk, start, end): Usage(Decimal("5.5"), 2),
    }
    windows_sql, total_sql = statements
    assert windows_sql.count(f"{rollups_table()} FINAL") == 1
    assert windows_sql.count(" FINAL") == 3  # the rollups, each meter's edge
    assert windows_sql.count("FINAL PREWHERE") == 3  # filtered before the merge: the keys only
    assert windows_sql.count("(SELECT") == 2  # one level below each edge's figures
    assert total_sql.count(" FINAL") == 2 and total_sql.count("(SELECT") == 1
