"""The batch decoder (metering/batch_decoder.py) gives the careful path's rows or declines.

The careful path is `metering.validation`: `loads`, then `event_validate` per event. Over
random bodies (edge numbers, numeric text, escapes, non-ASCII text, nesting, blank and long
texts, odd timestamps, unknown fields) the decoder must never take a body the careful path
refuses, and the rows it gives must be the careful path's, byte for byte. The plain tests
below check that it does take the bodies integrations send, and what it leaves to the careful
path; tests/metering/test_fast_path.py checks the API's answers both ways.
"""

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import APIException

from metering.api import _batch_events, _parsed
from metering.batch_decoder import BatchDecoder
from metering.services import MAX_BATCH
from metering.validation import EventInvalid, event_validate, loads

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DECODER = BatchDecoder(max_events=MAX_BATCH)


class Number:
    """A JSON number written exactly as given (`1e5`, `1.50`, `12345678901234567`)."""

    def __init__(self, text: str):
        self.text = text


def dump(value, *, spaced: bool = False, ascii_only: bool = True) -> str:
    """JSON text of `value`, Number written raw; `spaced` adds blanks between tokens."""
    gap = " " if spaced else ""
    if isinstance(value, Number):
        return value.text
    if isinstance(value, dict):
        items = (
            f"{dump(k, ascii_only=ascii_only)}:{gap}{dump(v, spaced=spaced, ascii_only=ascii_only)}"
            for k, v in value.items()
        )
        return "{" + f",{gap}".join(items) + "}"
    if isinstance(value, list):
        return (
            "[" + f",{gap}".join(dump(v, spaced=spaced, ascii_only=ascii_only) for v in value) + "]"
        )
    return json.dumps(value, ensure_ascii=ascii_only)


def careful(body: bytes) -> list | None:
    """The careful path's rows, or None when it refuses the body: metering.api's own parse and
    batch-shape checks, then `event_validate` per event (as `events_ingest` runs it)."""
    try:
        events = _batch_events(_parsed(body))
        return [event_validate(payload=event, at=AT) for event in events]
    except (APIException, EventInvalid):
        return None


def same_rows(fast: list, slow: list, body: bytes) -> None:
    """Equal rows; an event sent without an id gets a fresh UUID on each path."""
    sent = loads(body)["events"]
    assert len(fast) == len(slow)
    for fast_row, slow_row, event in zip(fast, slow, sent, strict=True):
        if event.get("event_id") is None:
            assert str(uuid.UUID(fast_row.event_id)) == fast_row.event_id
            fast_row = dataclasses.replace(fast_row, event_id=slow_row.event_id)
        assert fast_row == slow_row


# --- random bodies ---------------------------------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=20)
numbers = st.one_of(
    st.integers(-(10**17), 10**17).map(lambda n: Number(str(n))),
    st.builds(lambda a, b: Number(f"{a}.{b}"), st.integers(-(10**16), 10**16), digits),
    st.builds(
        lambda m, e, sign, power: Number(f"{m}{e}{sign}{power}"),
        st.sampled_from(["1", "2.5", "-7", "0.001"]),
        st.sampled_from(["e", "E"]),
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 400),
    ),
)
numeric_texts = st.one_of(
    digits,
    st.builds(lambda s, a, b: f"{s}{a}.{b}", st.sampled_from(["", "+", "-"]), digits, digits),
    st.builds(lambda a, e: f"{a}e{e}", digits, st.integers(0, 999)),
    st.builds(lambda a: f"{a}.e5", digits),
    st.builds(lambda a: f".{a}E-3", digits),
)
texts = st.one_of(
    st.sampled_from(
        ["eu-west-1", "large", "a{b", "x]", " ", "", "550e8400-e29b-41d4-a716-446655440000"]
    ),
    st.text(st.characters(codec="ascii"), max_size=12),
    st.text(max_size=6),  # any Unicode: accents, NUL, surrogates
    numeric_texts,
)
scalars = st.one_of(numbers, texts, st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=8,
)
flat_properties = st.dictionaries(texts, scalars, max_size=5)
properties = st.one_of(flat_properties, st.dictionaries(texts, values, max_size=4), values)


def stamp(offset_seconds: int, form: str) -> str:
    moment = AT + timedelta(seconds=offset_seconds)
    if form == "Z":
        return moment.isoformat().replace("+00:00", "Z")
    if form == "offset":
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    if form == "naive":
        return moment.replace(tzinfo=None).isoformat()
    return "yesterday"


timestamps = st.one_of(
    st.builds(
        stamp,
        st.integers(-6 * 365 * 86400, 600),
        st.sampled_from(["Z", "Z", "offset", "naive", "garbage"]),
    ),
    st.none(),
    st.integers(0, 10),
)
ids = st.one_of(
    st.builds(lambda n: f"evt-{n}", st.integers(0, 10**6)),
    st.sampled_from(["550e8400-e29b-41d4-a716-446655440000", "  ", "", "x" * 256]),
    texts,
    st.integers(0, 9),
)


def mostly(good, bad):
    """`good` nine times in ten, else `bad`: batches whose every event is valid stay common."""
    return st.integers(0, 9).flatmap(lambda k: good if k else bad)


plain_texts = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=10)
good_numbers = st.one_of(
    st.integers(-(10**15), 10**15).map(lambda n: Number(str(n))),
    st.builds(
        lambda a, b: Number(f"{a}.{b}"),
        st.integers(-(10**9), 10**9),
        st.text("0123456789", min_size=1, max_size=6),
    ),
)
good_scalars = st.one_of(
    good_numbers, plain_texts, st.booleans(), st.none(), st.sampled_from(["12.5", "-3", ".5"])
)
good_values = st.recursive(
    good_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(plain_texts, inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def events(draw):
    event = {
        "event_id": draw(
            mostly(
                st.one_of(
                    st.builds(lambda n: f"evt-{n}", st.integers(0, 10**6)),
                    st.just("550e8400-e29b-41d4-a716-446655440000"),
                    st.none(),
                ),
                ids,
            )
        ),
        "event_name": draw(mostly(st.sampled_from(["api_call", "llm_tokens", "e1"]), texts)),
        "external_customer_id": draw(
            mostly(st.sampled_from(["acme", " acme ", "customer-7"]), texts)
        ),
        "timestamp": draw(
            mostly(
                st.builds(
                    stamp, st.integers(-5 * 365 * 86400 + 60, 300), st.sampled_from(["Z", "offset"])
                ),
                timestamps,
            )
        ),
        "properties": draw(
            mostly(
                st.one_of(
                    st.dictionaries(plain_texts, good_scalars, max_size=5),
                    st.dictionaries(plain_texts, good_values, max_size=3),
                ),
                properties,
            )
        ),
    }
    for name in draw(st.sets(st.sampled_from(sorted(event)), max_size=2)):
        if name not in ("event_name", "external_customer_id") or draw(st.integers(0, 9)) == 0:
            del event[name]
    if draw(st.integers(0, 30)) == 0:
        event["extra"] = 1
    return event


@st.composite
def bodies(draw):
    batch = {"events": draw(st.lists(events(), min_size=1, max_size=4))}
    return dump(batch, spaced=draw(st.booleans()), ascii_only=draw(st.booleans())).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_the_decoder_never_takes_what_the_careful_path_refuses_and_gives_its_rows(body):
    fast = DECODER.rows(body, at=AT)
    if fast is None:
        return
    slow = careful(body)
    assert slow is not None, body
    same_rows(fast, slow, body)


# --- what it takes -------------------------------------------------------------------------


def event(n=0, **overrides):
    payload = {
        "event_id": f"550e8400-e29b-41d4-a716-44665544{n:04d}",
        "event_name": "llm_tokens",
        "external_customer_id": " customer-7 ",
        "timestamp": "2026-12-07T11:59:00.123456Z",
        "properties": {"tokens": 1234, "cost": Number("0.0042"), "model": "large", "ok": True},
    }
    payload.update(overrides)
    return payload


def raw(*events) -> bytes:
    return dump({"events": list(events)}).encode()


def test_a_plain_batch_is_taken_with_the_careful_rows_exactly():
    body = raw(*(event(n) for n in range(MAX_BATCH)))
    rows = DECODER.rows(body, at=AT)
    assert rows is not None
    assert rows == careful(body)
    assert rows[0].properties_json == '{"tokens":1234,"cost":0.0042,"model":"large","ok":true}'
    assert rows[0].external_customer_id == "customer-7"
    assert rows[0].timestamp == datetime(2026, 12, 7, 11, 59, 0, 123456, tzinfo=UTC)


def test_nested_properties_and_missing_fields_are_taken_too():
    body = raw(
        event(1, properties={"usage": {"tokens": 7, "by": ["a", Number("1.50")]}}),
        event(2, timestamp=None, properties=None),
        {"event_name": "api_call", "external_customer_id": "acme"},
    )
    rows = DECODER.rows(body, at=AT)
    assert rows is not None
    assert rows[0].properties_json == '{"usage":{"tokens":7,"by":["a",1.50]}}'
    assert rows[1].timestamp == AT and rows[1].properties_json == "{}"
    assert rows[2].event_id and rows[2].timestamp == AT
    same_rows(rows, careful(body), body)


@pytest.mark.parametrize(
    ("why", "changed"),
    [
        ("non-ASCII text", {"properties": {"région": "Île-de-France"}}),
        ("an escape", {"event_name": "api\\u0000call"}),
        ("a number past the bound", {"properties": {"n": Number("1000000000000001")}}),
        ("an exponent", {"properties": {"n": Number("1e99")}}),
        ("numeric text with an exponent", {"properties": {"n": "2.5E-3"}}),
        ("an unknown field", {"unknown": 1}),
        ("a blank name", {"event_name": "   "}),
        ("a long name", {"event_name": "x" * 201}),
        ("a number as the customer", {"external_customer_id": 7}),
        ("no offset", {"timestamp": "2026-12-07T11:59:00"}),
        ("in the future", {"timestamp": "2026-12-07T12:06:00Z"}),
        ("too old", {"timestamp": "2020-01-01T00:00:00Z"}),
        ("properties as a list", {"properties": [1]}),
    ],
)
def test_what_the_decoder_leaves_to_the_careful_path(why, changed):
    body = raw(event(1), event(2, **changed))
    assert DECODER.rows(body, at=AT) is None, why


def test_a_batch_past_the_limit_or_empty_is_left_to_the_careful_path():
    assert DECODER.rows(raw(*(event(n) for n in range(MAX_BATCH + 1))), at=AT) is None
    assert DECODER.rows(b'{"events":[]}', at=AT) is None
    assert DECODER.rows(b'{"events":[], "more": 1}', at=AT) is None
    assert DECODER.rows(b"[]", at=AT) is None
    assert DECODER.rows(b"", at=AT) is None


def test_deep_nesting_is_left_to_the_careful_path():
    deep = {"a": 1}
    for _ in range(30):
        deep = {"a": deep}
    assert DECODER.rows(raw(event(1, properties=deep)), at=AT) is None
    assert careful(raw(event(1, properties=deep))) is None  # refused there, with its message


def test_decimal_places_and_signs_are_written_as_sent():
    numbers = ["1.50", "-0.0", "0.10", "123456789012345.5", "-7", "0"]
    body = raw(event(1, properties={str(i): Number(n) for i, n in enumerate(numbers)}))
    (row,) = DECODER.rows(body, at=AT)
    assert json.loads(row.properties_json, parse_float=Decimal) == {
        str(i): Decimal(n) if "." in n else int(n) for i, n in enumerate(numbers)
    }
    assert row.properties_json == "{" + ",".join(f'"{i}":{n}' for i, n in enumerate(numbers)) + "}"


def test_a_repeated_key_keeps_its_last_value_as_on_the_careful_path():
    body = (
        b'{"events":[{"event_name":"a","event_name":"b","external_customer_id":"acme",'
        b'"properties":{"x":1,"y":2,"x":3}}],"events":[{"event_name":"c",'
        b'"external_customer_id":"acme","properties":{"x":1,"y":2,"x":3}}]}'
    )
    (row,) = DECODER.rows(body, at=AT)
    (slow,) = careful(body)
    assert (row.event_name, row.properties_json) == ("c", '{"x":3,"y":2}')
    assert (slow.event_name, slow.properties_json) == ("c", '{"x":3,"y":2}')


@pytest.mark.parametrize(
    "token",
    [
        "01",
        "-",
        "1.",
        ".5",
        "+1",
        "00",
        "-01",
        "1e",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "[1,]",
    ],
)
def test_malformed_json_is_left_to_the_careful_path_which_refuses_it(token):
    body = b'{"events":[{"event_name":"a","external_customer_id":"b","properties":{"n":%s}}]}'
    body = body % token.encode()
    assert DECODER.rows(body, at=AT) is None
    assert careful(body) is None
