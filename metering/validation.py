"""Checks one incoming event and turns it into a row to store.

Hand-written rather than a DRF serializer: a batch holds up to 1,000 events and this runs for
each of them, so it does only the checks the contract needs (measured in docs/performance.md).
JSON numbers arrive as Decimal (see `loads`) and are written back exactly as received.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from metering.properties import MAX_DIGITS, number_from_text

MAX_FUTURE = timedelta(minutes=5)
# Events may be backdated as far as a subscription may start (docs/api.md "Bounds").
MAX_PAST = timedelta(days=5 * 365)
# Every number a meter could read (a JSON number or a numeric string) is within ±MAX_NUMBER:
# one event can then never overflow a stored quantity (18 digits before the point) and a
# thousand of them still fit (docs/api.md "Bounds").
MAX_NUMBER = Decimal(10) ** 15
MAX_PROPERTIES_BYTES = 65_536
MAX_NESTING = 20
EVENT_FIELDS = ("event_id", "event_name", "external_customer_id", "timestamp", "properties")
_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)
MAX_TEXT_LENGTHS = {"event_id": 255, "event_name": 200, "external_customer_id": 255}
# PostgreSQL refuses NUL in text and unpaired surrogates in JSON: refuse them up front.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_encode_str = json.encoder.encode_basestring_ascii


class EventInvalid(Exception):
    """One event broke the contract; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class PropertiesInvalid(ValueError):
    """`field` names where: "properties", or the path of the value ("properties.usage.tokens")."""

    def __init__(self, message: str, *, field: str = "properties"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class EventRow:
    """A valid event, ready to insert: timestamp in UTC, properties as exact JSON text."""

    event_id: str
    event_name: str
    external_customer_id: str
    timestamp: datetime
    properties_json: str


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes):
    """Parse JSON with numbers kept exact (Decimal) and NaN/Infinity refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def event_validate(*, payload: object, at: datetime) -> EventRow:
    """Check one event against docs/api.md; raise EventInvalid listing every problem."""
    if type(payload) is not dict:
        raise EventInvalid({"non_field_errors": ["An event must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    if len(payload) > len(EVENT_FIELDS) or not payload.keys() <= _EVENT_FIELD_SET:
        for name in payload.keys() - _EVENT_FIELD_SET:
            errors[name] = [f"Unknown field. An event has: {', '.join(EVENT_FIELDS)}."]

    event_id = payload.get("event_id")
    if event_id is None:
        event_id = str(uuid.uuid4())
    else:
        _check_text(errors, "event_id", event_id)
    event_name = payload.get("event_name")
    _check_text(errors, "event_name", event_name)
    external_customer_id = payload.get("external_customer_id")
    _check_text(errors, "external_customer_id", external_customer_id)
    if "external_customer_id" not in errors:
        # Customers' external ids are trimmed when created: trim here too, or they never match.
        external_customer_id = external_customer_id.strip()
    timestamp = _timestamp(errors, payload.get("timestamp"), at)

    properties = payload.get("properties")
    properties_json = "{}"
    if properties is not None:
        if type(properties) is not dict:
            errors["properties"] = ["Must be a JSON object."]
        elif properties:
            try:
                properties_json = encode_properties(properties)
            except PropertiesInvalid as error:
                errors[error.field] = [str(error)]

    if errors:
        raise EventInvalid(errors)
    return EventRow(event_id, event_name, external_customer_id, timestamp, properties_json)


def _check_text(errors: dict, name: str, value: object) -> None:
    if value is None:
        errors[name] = ["This field is required."]
    elif type(value) is not str:
        errors[name] = ["Must be a string."]
    elif not value or value.isspace():
        errors[name] = ["Must not be blank."]
    elif len(value) > MAX_TEXT_LENGTHS[name]:
        errors[name] = [f"At most {MAX_TEXT_LENGTHS[name]} characters."]
    elif _UNSTORABLE.search(value):
        errors[name] = ["Must not contain NUL characters or unpaired surrogates."]


def _timestamp(errors: dict, value: object, at: datetime) -> datetime:
    if value is None:
        return at
    if type(value) is not str:
        errors["timestamp"] = ["Must be an ISO 8601 string, e.g. 2026-03-01T12:00:00Z."]
        return at
    try:
        timestamp = datetime.fromisoformat(value)
    except ValueError:
        errors["timestamp"] = [
            "Not an ISO 8601 date-time with an offset, e.g. 2026-03-01T12:00:00Z."
        ]
        return at
    if timestamp.tzinfo is None:
        errors["timestamp"] = ["Needs a UTC offset, e.g. 2026-03-01T12:00:00Z or +02:00."]
        return at
    try:
        timestamp = timestamp.astimezone(UTC)
    except (OverflowError, ValueError):
        errors["timestamp"] = ["Out of range."]
        return at
    if timestamp > at + MAX_FUTURE:
        errors["timestamp"] = [f"More than 5 minutes in the future (server time {at.isoformat()})."]
    elif timestamp < at - MAX_PAST:
        errors["timestamp"] = [
            f"More than 5 years in the past (server time {at.isoformat()}): too old to bill."
        ]
    return timestamp


def encode_properties(properties: dict) -> str:
    """Properties as compact JSON text, numbers written exactly as received."""
    parts: list[str] = []
    _encode(properties, parts, 0, "properties")
    text = "".join(parts)
    if len(text) > MAX_PROPERTIES_BYTES:
        raise PropertiesInvalid(f"At most {MAX_PROPERTIES_BYTES} bytes of JSON.")
    return text


def _out_of_bounds(number: Decimal, path: str) -> PropertiesInvalid:
    return PropertiesInvalid(
        f"{number} is out of bounds: a number (or numeric text) in properties is between "
        f"-{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}, with at most {MAX_DIGITS} decimals; "
        "send identifiers that look like numbers with a non-numeric prefix.",
        field=path,
    )


def _encode(value: object, parts: list[str], depth: int, path: str) -> None:
    """Append `value` as JSON to `parts`, checking it: the checks of `_scalar` on every text,
    number and key, at most MAX_NESTING levels. Written as one loop per object or list with
    the scalars inline (no call, no path text per value unless it is refused): it runs for
    every property of every event (docs/performance.md)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        parts.append(_scalar(value, path))
        return
    if depth >= MAX_NESTING:
        raise PropertiesInvalid(f"Nested deeper than {MAX_NESTING} levels.")
    append = parts.append
    items = value.items() if kind is dict else enumerate(value)
    append("{" if kind is dict else "[")
    first = True
    for key, item in items:
        if first:
            first = False
        else:
            append(",")
        if kind is dict:
            if _UNSTORABLE.search(key) or (key and (key[0].isdigit() or key[0] in "+-.")):
                append(_scalar(key, path))
            else:
                append(_encode_str(key))
            append(":")
        item_kind = type(item)
        if item_kind is int and -MAX_NUMBER <= item <= MAX_NUMBER:
            append(str(item))
        elif item_kind is str and not (
            _UNSTORABLE.search(item) or (item and (item[0].isdigit() or item[0] in "+-."))
        ):
            append(_encode_str(item))
        elif item_kind is Decimal and _within_bounds(item):
            append(str(item))
        elif item_kind is dict or item_kind is list:
            _encode(item, parts, depth + 1, f"{path}.{key}")
        else:
            append(_scalar(item, f"{path}.{key}"))
    append("}" if kind is dict else "]")


def _scalar(value: object, path: str) -> str:
    """One text, number, boolean or null as JSON, refused when unstorable or out of bounds."""
    kind = type(value)
    if kind is str:
        if _UNSTORABLE.search(value):
            raise PropertiesInvalid(
                "Text must not contain NUL characters or unpaired surrogates.", field=path
            )
        # Text a meter would read as a number is bounded like a number.
        if value and (value[0].isdigit() or value[0] in "+-.") and len(value) < 2000:
            number = number_from_text(value)
            if number is not None and not _within_bounds(number):
                raise _out_of_bounds(number, path)
        return _encode_str(value)
    if kind is int:
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            raise _out_of_bounds(Decimal(value), path)
        return str(value)
    if kind is Decimal:
        if not _within_bounds(value):
            raise _out_of_bounds(value, path)
        return str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    raise PropertiesInvalid(f"Unsupported value: {value!r}.", field=path)


def _within_bounds(number: Decimal) -> bool:
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    return -MAX_NUMBER <= number <= MAX_NUMBER and number.as_tuple().exponent >= -MAX_DIGITS
