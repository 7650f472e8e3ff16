"""Exact usage rollups: whole hours from rollups, edges and dirty hours from raw events.

The property test compares every usage selector read through rollups with the same read
from raw events alone, for every aggregation, under random events, duplicates, late arrivals,
windows cut anywhere (on and off hour boundaries) and rollups refreshed or not in between.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from metering.models import RollupCoverage, RollupDirtyBucket, UsageRollup
from metering.rollups import (
    rollups_check,
    rollups_horizon,
    rollups_rebuild,
    rollups_refresh,
    rollups_refresh_range,
)
from metering.selectors import (
    Usage,
    rollup_usage,
    usage_by_customer,
    usage_by_group,
    usage_for_period,
    usage_for_windows,
    usage_series,
)
from metering.services import events_ingest
from metering.validation import loads
from tests.factories import MeterFactory

BASE = datetime(2026, 3, 1, tzinfo=UTC)
AT = datetime(2026, 3, 10, tzinfo=UTC)
CUSTOMERS = ["acme", "globex"]


def ingest(events: list[dict]) -> None:
    events_ingest(payloads=loads(json.dumps(events)), at=AT)


def event(event_id, minute, *, customer="acme", name="call", **properties) -> dict:
    return {
        "event_id": str(event_id),
        "event_name": name,
        "external_customer_id": customer,
        "timestamp": (BASE + timedelta(minutes=minute)).isoformat(),
        "properties": properties,
    }


# --- generated streams -------------------------------------------------------------------

values = st.one_of(
    st.integers(-5, 1000),
    st.sampled_from(["0.1", "0.2", "2.25", "123456789012345.891", "-0.5", "lots", "1e2"]),
    st.none(),
)
minutes = st.one_of(
    st.integers(0, 72).map(lambda hour: hour * 60),  # on an hour boundary
    st.integers(0, 72 * 60),
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
    return {
        "event_id": str(draw(st.integers(0, 40))),  # small ids: duplicates are frequent
        "event_name": draw(st.sampled_from(["call", "call", "other"])),
        "external_customer_id": draw(st.sampled_from(CUSTOMERS)),
        "timestamp": (BASE + timedelta(minutes=draw(minutes))).isoformat(),
        "properties": properties,
    }


windows = st.tuples(minutes, minutes).map(
    lambda pair: (BASE + timedelta(minutes=min(pair)), BASE + timedelta(minutes=max(pair) + 1))
)

METERS = [
    {"aggregation": "count"},
    {"aggregation": "sum", "field": "v", "filters": {"region": ["eu"]}, "group_by": "region"},
    {"aggregation": "min", "field": "v"},
    {"aggregation": "max", "field": "v", "group_by": "region"},
    {"aggregation": "avg", "field": "v"},
    {"aggregation": "latest", "field": "v", "group_by": "region"},
    {"aggregation": "count", "filters": {"region": ["us", "eu"]}},
]


def reads(meter, window) -> dict:
    start, end = window
    one = {"meter": meter, "external_customer_id": "acme", "start": start, "end": end}
    return {
        "period": usage_for_period(**one),
        "customers": usage_by_customer(
            meter=meter, external_customer_ids=CUSTOMERS, start=start, end=end
        ),
        "groups": usage_by_group(**one),
        "hours": usage_series(**one, bucket="hour"),
    }


class RollupsEqualRawEvents(TestCase):
    @settings(max_examples=10, deadline=None)
    @given(
        batches=st.lists(st.lists(stream_events(), max_size=25), min_size=1, max_size=3),
        refresh_after=st.lists(st.booleans(), min_size=3, max_size=3),
        window=windows,
    )
    def test_every_read_through_rollups_equals_the_raw_read(self, batches, refresh_after, window):
        meters = [MeterFactory(event_name="call", **spec) for spec in METERS]
        for meter in meters:  # the meters are covered from now on
            rollups_rebuild(meter=meter, at=AT)
        for batch, refresh in zip(batches, refresh_after, strict=False):
            ingest(batch)  # later batches: duplicates of earlier ids, late timestamps
            if refresh:
                rollups_refresh(at=AT)

        assert RollupCoverage.objects.count() == len(METERS)
        # The batched read of the upcoming invoice: every meter's window in one round, plus a
        # meter without rollups, a second window of one meter and an empty window.
        unique = MeterFactory(event_name="call", aggregation="unique_count", field="v")
        several = [(meter, *window) for meter in [*meters, unique]]
        several += [(meters[0], BASE, window[1]), (meters[1], window[1], window[1])]
        # Few runs of dirty hours allowed: some customers' reads go wholly raw as well.
        with mock.patch.object(rollup_usage, "MAX_DIRTY_RANGES", 2):
            through_rollups = [reads(meter, window) for meter in meters]
            batched = usage_for_windows(external_customer_id="acme", windows=several)
        assert rollups_check() == []
        RollupCoverage.objects.all().delete()  # every read now goes to raw events
        for index, meter in enumerate(meters):
            assert through_rollups[index] == reads(meter, window), METERS[index]
        one_by_one = {
            (meter.pk, start, end): usage_for_period(
                meter=meter, external_customer_id="acme", start=start, end=end
            )
            for meter, start, end in several
        }
        assert batched == one_by_one
        assert usage_for_windows(external_customer_id="acme", windows=several) == one_by_one


# --- the mechanics, one by one -----------------------------------------------------------

pytestmark = pytest.mark.django_db
MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def acme(meter, start=MONTH[0], end=MONTH[1]) -> Usage:
    return usage_for_period(meter=meter, external_customer_id="acme", start=start, end=end)


def test_whole_hours_are_read_from_rollups_and_the_check_finds_a_corrupted_one():
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=5), event(2, 70, v="0.5")])
    rollups_refresh(at=AT)
    assert acme(meter) == Usage(Decimal("5.5"), 2)

    UsageRollup.objects.filter(bucket_start=BASE).update(event_count=3, quantity_sum=Decimal("7"))
    assert acme(meter) == Usage(Decimal("7.5"), 4)  # the read trusts the rollup...
    [mismatch] = rollups_check()  # ...and the check says which hour is wrong
    assert (mismatch.external_customer_id, mismatch.bucket_start) == ("acme", BASE)
    assert mismatch.raw["event_count"] == 1 and mismatch.stored["event_count"] == 3
    with pytest.raises(CommandError, match="1 rollup hours differ"):
        call_command("rebuild_rollups", "--check")

    call_command("rebuild_rollups", "--meter", meter.code)
    assert acme(meter) == Usage(Decimal("5.5"), 2)
    assert rollups_check() == []


def test_events_landing_after_a_refresh_count_at_once_and_duplicates_never():
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=5)])
    rollups_refresh(at=AT)
    ingest([event(1, 10, v=100), event(2, 15, v=1), event(3, 60 * 24 * 5, v=2)])  # dup, late
    assert RollupDirtyBucket.objects.count() == 2
    assert acme(meter) == Usage(Decimal("8"), 3)
    result = rollups_refresh(at=AT)
    assert (result.marks, RollupDirtyBucket.objects.count()) == (2, 0)
    assert acme(meter) == Usage(Decimal("8"), 3)


def test_window_edges_inside_an_hour_come_from_raw_events():
    meter = MeterFactory(event_name="call", aggregation="count")
    ingest([event(index, minute) for index, minute in enumerate([5, 29, 30, 61, 119, 120, 150])])
    rollups_refresh(at=AT)
    start, end = BASE + timedelta(minutes=30), BASE + timedelta(minutes=150)
    assert acme(meter, start, end) == Usage(Decimal("4"), 4)  # 30, 61, 119, 120; 150 is out


def test_an_edited_meter_is_read_raw_until_its_rollups_are_rebuilt():
    meter = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=5, w=1), event(2, 20, v=1, w=7)])
    rollups_refresh(at=AT)
    meter.field = "w"
    meter.save()
    assert acme(meter) == Usage(Decimal("8"), 2)
    assert rollups_refresh(at=AT).rebuilt_meters == [meter.code]
    assert acme(meter) == Usage(Decimal("8"), 2)
    assert rollups_check() == []


def test_refresh_range_recomputes_one_customers_hours_after_a_change_to_stored_events():
    """What an operator's change to stored events (e.g. excluding one) calls (docs/scaling.md)."""
    from metering.models import Event

    meter = MeterFactory(event_name="call", aggregation="max", field="v")
    ingest([event(1, 10, v=50), event(2, 20, v=3), event(3, 20, customer="globex", v=9)])
    rollups_refresh(at=AT)
    Event.objects.filter(event_id="1").delete()  # a stand-in for any change to stored events
    hours = rollups_refresh_range(
        external_customer_id="acme", start=BASE, end=BASE + timedelta(minutes=30)
    )
    assert hours == 1
    assert acme(meter) == Usage(Decimal("3"), 1)
    assert rollups_check() == []


def test_the_task_builds_one_new_meter_per_run():
    first = MeterFactory(event_name="call", aggregation="count")
    second = MeterFactory(event_name="call", aggregation="sum", field="v")
    ingest([event(1, 10, v=2), event(2, 70, v=3)])
    assert rollups_refresh(at=AT).rebuilt_meters == [first.code]
    assert rollups_refresh(at=AT).rebuilt_meters == [second.code]
    assert rollups_refresh(at=AT).rebuilt_meters == []
    assert acme(second) == Usage(Decimal("5"), 2)
    assert UsageRollup.objects.filter(meter=second).count() == 2


def test_a_day_series_adds_rollup_hours_and_raw_edges_per_day():
    meter = MeterFactory(event_name="call", aggregation="max", field="v")
    ingest([event(1, 30, v=4), event(2, 60 * 5, v=9), event(3, 60 * 25, v=2)])
    rollups_refresh(at=AT)
    ingest([event(4, 60 * 26 + 5, v=7)])  # a dirty hour on day 2
    series = usage_series(
        meter=meter,
        external_customer_id="acme",
        start=BASE + timedelta(minutes=10),
        end=BASE + timedelta(days=2),
        bucket="day",
    )
    assert [(bucket.quantity, bucket.event_count) for bucket in series] == [
        (Decimal("9"), 2),
        (Decimal("7"), 2),
    ]


def test_unique_count_meters_have_no_rollups():
    meter = MeterFactory(event_name="call", aggregation="unique_count", field="user")
    ingest([event(1, 10, user="a"), event(2, 70, user="a"), event(3, 80, user="b")])
    rollups_refresh(at=AT)
    assert rollups_rebuild(meter=meter, at=AT) == 0
    assert not UsageRollup.objects.exists()
    assert acme(meter) == Usage(Decimal("2"), 3)


def test_rebuild_rollups_command_reports_each_meter(capsys):
    MeterFactory(code="calls", event_name="call", aggregation="count")
    ingest([event(1, 10), event(2, 70), event(3, 75)])
    call_command("rebuild_rollups")
    assert "calls: 2 rollup rows" in capsys.readouterr().out
    call_command("rebuild_rollups", "--check")
    out = capsys.readouterr().out
    assert "Rollups agree with the raw events." in out
    assert f"Hours sealed until {rollups_horizon():%Y-%m-%d %H:%M} UTC" in out
    with pytest.raises(CommandError, match="No meter has the code 'nope'"):
        call_command("rebuild_rollups", "--meter", "nope")
