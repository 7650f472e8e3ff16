"""How a meter reads an event's properties: property paths, numeric values, text values.

The same rules run in PostgreSQL (SQL in `metering.expressions`), in the SQLite functions
registered on each connection, and in the event debugger, so all three agree on what counts.
"""

import json
import re
from decimal import Decimal

# A numeric value: a JSON number or a numeric string, of at most MAX_NUMERIC_TEXT characters
# and an exponent of at most 3 digits, so that PostgreSQL's cast to numeric can never fail (a
# value outside them is "not numeric"). Unbounded `[0-9]+` plus a length check: a bounded
# repetition such as {1,255} makes PostgreSQL's regex engine ten times slower.
MAX_NUMERIC_TEXT = 1000
NUMERIC_PATTERN = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$"
# Stored JSON numbers stay within this many digits before and after the point (validation).
MAX_DIGITS = 255
_NUMERIC_RE = re.compile(NUMERIC_PATTERN, re.ASCII)
MISSING = object()  # a property path that leads nowhere


def property_path(path: str) -> list[str]:
    """`usage.bytes` → ["usage", "bytes"]: a dotted path into nested objects."""
    return [part for part in path.split(".") if part]


def sqlite_json_path(path: str) -> str:
    """The SQLite JSON path of a dotted property path, each key quoted: `$."usage"."bytes"`."""
    return "$" + "".join('."' + part.replace('"', "") + '"' for part in property_path(path))


def number_from_text(text: str | None) -> Decimal | None:
    """A numeric text as an exact Decimal, or None when it is not numeric."""
    if text is None or len(text) > MAX_NUMERIC_TEXT or not _NUMERIC_RE.match(text):
        return None
    return Decimal(text)


def number_from_json(json_text: str | None) -> Decimal | None:
    """The exact number held by one JSON value (its text, as SQLite's `->` returns it)."""
    if json_text is None:
        return None
    if json_text.startswith('"'):
        return number_from_text(json.loads(json_text))
    return number_from_text(json_text)


def text_from_json(json_text: str | None) -> str | None:
    """A JSON value as PostgreSQL's `->>` shows it: strings unquoted, null as None."""
    if json_text is None or json_text == "null":
        return None
    if json_text.startswith('"'):
        return json.loads(json_text)
    return json_text


def property_lookup(properties: object, path: str) -> object:
    """The value at a dotted path in decoded properties, or `MISSING`."""
    value = properties
    for part in property_path(path):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def value_as_number(value: object) -> Decimal | None:
    """A decoded property value (int, Decimal, str) as an exact Decimal, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return number_from_text(str(value))
    if isinstance(value, str):
        return number_from_text(value)
    return None


def value_as_text(value: object) -> str | None:
    """A decoded property value as text for filters and grouping (`->>` semantics)."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, default=str, separators=(", ", ": "))


def filter_value_text(value: object) -> str:
    """A meter filter's allowed value as the text it is compared with."""
    text = value_as_text(value)
    return "" if text is None else text


def json_text(value: object, *, indent: int | None = None, _level: int = 0) -> str:
    """JSON for display with Decimals written as the exact numbers they are (not strings)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list) and value:
        pad = "" if indent is None else "\n" + " " * indent * (_level + 1)
        end = "" if indent is None else "\n" + " " * indent * _level
        comma = "," if indent is not None else ", "
        if isinstance(value, dict):
            items = [
                f"{json.dumps(key, ensure_ascii=False)}: "
                f"{json_text(item, indent=indent, _level=_level + 1)}"
                for key, item in value.items()
            ]
            return "{" + pad + (comma + pad).join(items) + end + "}"
        items = [json_text(item, indent=indent, _level=_level + 1) for item in value]
        return "[" + pad + (comma + pad).join(items) + end + "]"
    return json.dumps(value, ensure_ascii=False)
