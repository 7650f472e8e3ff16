"""Meter aggregation: every aggregation, filters and field validity, exact on both databases."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from metering.selectors import (
    Usage,
    events_for_usage,
    usage_by_customer,
    usage_by_group,
    usage_for_period,
    usage_series,
)
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def at(day: int, hour: int = 0) -> str:
    return datetime(2026, 3, day, hour, tzinfo=UTC).isoformat()


def usage(meter, customer="acme", start=START, end=END) -> Usage:
    return usage_for_period(meter=meter, external_customer_id=customer, start=start, end=end)


def test_point_one_plus_point_two_is_exactly_point_three(store):
    meter = MeterFactory(event_name="credits_used", aggregation="sum", field="credits")
    store(
        '[{"event_name": "credits_used", "external_customer_id": "acme", "event_id": "a",'
        ' "timestamp": "2026-03-02T00:00:00Z", "properties": {"credits": 0.1}},'
        ' {"event_name": "credits_used", "external_customer_id": "acme", "event_id": "b",'
        ' "timestamp": "2026-03-02T00:00:00Z", "properties": {"credits": "0.2"}}]'
    )
    assert usage(meter) == Usage(Decimal("0.3"), 2)
    assert str(usage(meter).quantity) == "0.3"


def test_large_and_precise_values_stay_exact(store):
    meter = MeterFactory(event_name="e", aggregation="sum", field="v")
    store(
        '[{"event_name": "e", "external_customer_id": "acme", "event_id": "a",'
        ' "timestamp": "2026-03-02T00:00:00Z", "properties": {"v": 123456789012345.891}},'
        ' {"event_name": "e", "external_customer_id": "acme", "event_id": "b",'
        ' "timestamp": "2026-03-02T00:00:00Z", "properties": {"v": 0.000000000001}},'
        ' {"event_name": "e", "external_customer_id": "acme", "event_id": "c",'
        ' "timestamp": "2026-03-02T00:00:00Z", "properties": {"v": 1E+3}}]'
    )
    assert usage(meter).quantity == Decimal("123456789013345.891000000001")


@pytest.fixture
def api_calls(store):
    """Six events for acme: values 5, 1.5, "2.25", missing, "lots", true; one for globex."""

    def event(event_id, day, properties, customer="acme", name="api_call"):
        return {
            "event_id": event_id,
            "event_name": name,
            "external_customer_id": customer,
            "timestamp": at(day),
            "properties": properties,
        }

    store(
        [
            event("1", 2, {"ms": 5, "region": "eu", "user": "u1"}),
            event("2", 3, {"ms": 1.5, "region": "us", "user": "u2"}),
            event("3", 4, {"ms": "2.25", "region": "eu", "user": "u1"}),
            event("4", 5, {"region": "eu", "user": "u3"}),
            event("5", 6, {"ms": "lots", "region": "apac"}),
            event("6", 7, {"ms": True, "region": "eu", "user": 7}),
            event("7", 2, {"ms": 100, "region": "eu"}, customer="globex"),
            event("8", 2, {"ms": 100, "region": "eu"}, name="other_event"),
        ]
    )


@pytest.mark.parametrize(
    ("aggregation", "field", "expected"),
    [
        ("count", "", Usage(Decimal("6"), 6)),
        ("sum", "ms", Usage(Decimal("8.75"), 3)),
        ("max", "ms", Usage(Decimal("5"), 3)),
        ("min", "ms", Usage(Decimal("1.5"), 3)),
        ("avg", "ms", Usage(Decimal("8.75") / 3, 3)),
        ("unique_count", "user", Usage(Decimal("4"), 5)),
        ("latest", "ms", Usage(Decimal("2.25"), 3)),
    ],
)
def test_every_aggregation(api_calls, aggregation, field, expected):
    meter = MeterFactory(event_name="api_call", aggregation=aggregation, field=field)
    assert usage(meter) == expected


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("count", Usage(Decimal("4"), 4)),
        ("sum", Usage(Decimal("7.25"), 2)),
        ("max", Usage(Decimal("5"), 2)),
        ("min", Usage(Decimal("2.25"), 2)),
        ("avg", Usage(Decimal("3.625"), 2)),
        ("latest", Usage(Decimal("2.25"), 2)),
    ],
)
def test_filters_keep_only_matching_events(api_calls, aggregation, expected):
    meter = MeterFactory(
        event_name="api_call",
        aggregation=aggregation,
        field="" if aggregation == "count" else "ms",
        filters={"region": ["eu", "antarctica"]},
    )
    assert usage(meter) == expected


def test_filters_on_several_properties_all_apply(api_calls):
    meter = MeterFactory(
        event_name="api_call", aggregation="count", filters={"region": ["eu"], "user": ["u1"]}
    )
    assert usage(meter) == Usage(Decimal("2"), 2)


def test_filter_values_match_numbers_as_text(api_calls):
    meter = MeterFactory(event_name="api_call", aggregation="count", filters={"user": ["7"]})
    assert usage(meter) == Usage(Decimal("1"), 1)


def test_no_events_is_zero(db):
    meter = MeterFactory(event_name="api_call", aggregation="sum", field="ms")
    assert usage(meter) == Usage(Decimal("0"), 0)
    latest = MeterFactory(event_name="api_call", aggregation="latest", field="ms")
    assert usage(latest) == Usage(Decimal("0"), 0)


def test_window_is_half_open(api_calls):
    meter = MeterFactory(event_name="api_call", aggregation="count")
    day3 = datetime(2026, 3, 3, tzinfo=UTC)
    day5 = datetime(2026, 3, 5, tzinfo=UTC)
    assert usage(meter, start=day3, end=day5) == Usage(Decimal("2"), 2)  # days 3 and 4
    assert usage(meter, customer="globex") == Usage(Decimal("1"), 1)
    assert usage(meter, customer="nobody") == Usage(Decimal("0"), 0)


def test_nested_property_paths(store):
    meter = MeterFactory(event_name="upload", aggregation="sum", field="usage.bytes")
    store(
        [
            {
                "event_name": "upload",
                "external_customer_id": "acme",
                "timestamp": at(2),
                "properties": {"usage": {"bytes": 1024}},
            },
            {
                "event_name": "upload",
                "external_customer_id": "acme",
                "timestamp": at(2),
                "properties": {"usage": 7},
            },
        ]
    )
    assert usage(meter) == Usage(Decimal("1024"), 1)


def test_latest_breaks_timestamp_ties_by_arrival(store):
    meter = MeterFactory(event_name="storage", aggregation="latest", field="gb")
    store([_storage("a", at(2), 3), _storage("b", at(9), 5)])
    store([_storage("c", at(9), 4)])
    store([_storage("d", at(3), 9)])
    assert usage(meter) == Usage(Decimal("4"), 4)


def _storage(event_id, timestamp, gb, customer="acme"):
    return {
        "event_id": event_id,
        "event_name": "storage",
        "external_customer_id": customer,
        "timestamp": timestamp,
        "properties": {"gb": gb},
    }


@pytest.mark.parametrize(
    ("aggregation", "field"),
    [
        ("count", ""),
        ("sum", "ms"),
        ("max", "ms"),
        ("min", "ms"),
        ("avg", "ms"),
        ("unique_count", "user"),
        ("latest", "ms"),
    ],
)
def test_events_for_usage_are_exactly_the_counted_events(api_calls, aggregation, field):
    meter = MeterFactory(event_name="api_call", aggregation=aggregation, field=field)
    events = events_for_usage(meter=meter, external_customer_id="acme", start=START, end=END)
    assert events.count() == usage(meter).event_count
    ids = set(events.values_list("event_id", flat=True))
    expected = {"count": {"1", "2", "3", "4", "5", "6"}, "unique_count": {"1", "2", "3", "4", "6"}}
    assert ids == expected.get(aggregation, {"1", "2", "3"})


def test_usage_by_group_splits_the_total(api_calls):
    meter = MeterFactory(event_name="api_call", aggregation="sum", field="ms", group_by="region")
    groups = usage_by_group(meter=meter, external_customer_id="acme", start=START, end=END)
    assert [(group.group, group.quantity, group.event_count) for group in groups] == [
        ("eu", Decimal("7.25"), 2),
        ("us", Decimal("1.5"), 1),
    ]


def test_usage_by_group_latest_and_missing_group(store):
    meter = MeterFactory(event_name="storage", aggregation="latest", field="gb", group_by="bucket")
    events = [_storage("a", at(2), 3), _storage("b", at(3), 2), _storage("c", at(4), 8)]
    events[0]["properties"]["bucket"] = "logs"
    events[1]["properties"]["bucket"] = "logs"
    store(events)
    groups = usage_by_group(meter=meter, external_customer_id="acme", start=START, end=END)
    assert [(group.group, group.quantity, group.event_count) for group in groups] == [
        (None, Decimal("8"), 1),
        ("logs", Decimal("2"), 2),
    ]


def test_usage_series_per_day_with_empty_days(api_calls):
    meter = MeterFactory(event_name="api_call", aggregation="sum", field="ms")
    series = usage_series(
        meter=meter,
        external_customer_id="acme",
        start=datetime(2026, 3, 1, tzinfo=UTC),
        end=datetime(2026, 3, 5, tzinfo=UTC),
        bucket="day",
    )
    assert [(bucket.start.day, bucket.quantity, bucket.event_count) for bucket in series] == [
        (1, Decimal("0"), 0),
        (2, Decimal("5"), 1),
        (3, Decimal("1.5"), 1),
        (4, Decimal("2.25"), 1),
    ]


def test_usage_series_per_hour_latest(store):
    meter = MeterFactory(event_name="storage", aggregation="latest", field="gb")
    base = datetime(2026, 3, 2, 10, tzinfo=UTC)
    store(
        [
            _storage("a", (base + timedelta(minutes=5)).isoformat(), 1),
            _storage("b", (base + timedelta(minutes=50)).isoformat(), 2),
            _storage("c", (base + timedelta(hours=2, minutes=1)).isoformat(), 7),
        ]
    )
    series = usage_series(
        meter=meter,
        external_customer_id="acme",
        start=base,
        end=base + timedelta(hours=3),
        bucket="hour",
    )
    assert [(bucket.start.hour, bucket.quantity) for bucket in series] == [
        (10, Decimal("2")),
        (11, Decimal("0")),
        (12, Decimal("7")),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "Infinity",
        "-inf",
        " 5",
        "5 ",
        "1_000",
        "\u0661\u0662",
        "0x10",
        "1e1234",
        "9" * 1001,
        "",
        "1.2.3",
        "--1",
        "true",
    ],
)
def test_values_that_are_not_numbers_are_skipped_never_an_error(store, value):
    meter = MeterFactory(event_name="e", aggregation="sum", field="v")
    store(
        [
            {
                "event_name": "e",
                "external_customer_id": "acme",
                "timestamp": at(2),
                "properties": {"v": value},
            },
            {
                "event_name": "e",
                "external_customer_id": "acme",
                "timestamp": at(2),
                "properties": {"v": "2"},
            },
        ]
    )
    assert usage(meter) == Usage(Decimal("2"), 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1.50", "1.50"),
        ("-0", "0"),
        (".5", "0.5"),
        ("3.", "3"),
        ("1e3", "1000"),
        ("2.5E-2", "0.025"),
        ("9" * 15, "9" * 15),
    ],
)
def test_numeric_strings_are_read_exactly(store, value, expected):
    meter = MeterFactory(event_name="e", aggregation="sum", field="v")
    store(
        [
            {
                "event_name": "e",
                "external_customer_id": "acme",
                "timestamp": at(2),
                "properties": {"v": value},
            }
        ]
    )
    assert usage(meter) == Usage(Decimal(expected), 1)


@pytest.mark.parametrize(
    ("aggregation", "field"),
    [
        ("count", ""),
        ("sum", "ms"),
        ("max", "ms"),
        ("min", "ms"),
        ("avg", "ms"),
        ("unique_count", "user"),
        ("latest", "ms"),
    ],
)
def test_usage_by_customer_matches_usage_for_period(api_calls, aggregation, field):
    meter = MeterFactory(event_name="api_call", aggregation=aggregation, field=field)
    found = usage_by_customer(
        meter=meter, external_customer_ids=["acme", "globex", "nobody"], start=START, end=END
    )
    assert "acme" in found and "nobody" not in found
    for customer in ("acme", "globex", "nobody"):
        assert found.get(customer, Usage(Decimal("0"), 0)) == usage(meter, customer=customer)
