"""A batch's fast decoder: the common body of POST /events/batch, decoded and checked in C.

`metering.validation` is the definition of a valid event: `loads` (exact JSON) and then
`event_validate`, one event at a time in Python, with every error listed. That costs a batch
about two thirds of the API worker's CPU per event (docs/performance.md, "The batch's fast
decoder"). This module takes the same bodies when it can prove, cheaply, that the Python
checks have nothing to refuse in them, and gives the very same rows:

1. `_plain`: a look at the raw bytes rules out what only the careful path handles: any escape
   (a backslash: `\\u0000` or a surrogate would be unstorable), a run of 16 or more digits (a
   number, or numeric text, past the ±10^15 bound, or with more places than plain figures
   have), an exponent (`1e999`, as a number or numeric text), and non-ASCII text or DEL
   (the careful path writes them as `\\u` escapes, msgspec as they are: the stored text
   would differ);
2. msgspec decodes the body into typed structs (unknown fields, wrong types, missing fields,
   lengths and the batch's size are refused there), numbers as exact Decimal as `loads` does;
3. what is left per event runs in Python: blank texts, the timestamp (parsed by the same
   `datetime.fromisoformat`), and the properties' JSON text: written by msgspec when no
   event's properties hold an object or a list (counted on the raw bytes), by
   `validation.encode_properties` otherwise.

Anything the decoder does not take (`None`) goes the careful way, which answers it as before:
the 400's messages come from there only. tests/metering/test_batch_decoder.py checks, over
random bodies, that the decoder never takes a body the careful path refuses and that the rows
it gives are the careful path's.
"""

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from metering.validation import (
    MAX_FUTURE,
    MAX_PAST,
    MAX_PROPERTIES_BYTES,
    MAX_TEXT_LENGTHS,
    EventRow,
    PropertiesInvalid,
    encode_properties,
)


def _text(field: str):
    return Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_LENGTHS[field])]


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    event_name: _text("event_name")
    external_customer_id: _text("external_customer_id")
    event_id: _text("event_id") | None = None
    timestamp: str | None = None
    properties: dict | None = None


def _decoder(max_events: int) -> msgspec.json.Decoder:
    events = Annotated[list[_Event], msgspec.Meta(min_length=1, max_length=max_events)]
    batch = msgspec.defstruct("_Batch", [("events", events)], forbid_unknown_fields=True)
    return msgspec.json.Decoder(batch, float_hook=Decimal)


# Digits to 0, exponents to e, signs to s: the raw checks below become substring searches.
_TRANSLATED = bytes.maketrans(b"123456789E+-", b"000000000ess")
_LONG_RUN = b"0" * 16
# An exponent ending a number or a text: `1e5,` `"2.5E-3"` `"5.e3"` (not `550e8400-…`).
_EXPONENTS = (
    re.compile(rb'0es?0+["\],}\s]'),
    re.compile(rb'\.es?0+["\],}\s]'),
)
_ENCODER = msgspec.json.Encoder(decimal_format="number")


class BatchDecoder:
    """`rows(body, at)`: the batch's rows, or None when the careful path must decide."""

    def __init__(self, *, max_events: int):
        self.decoder = _decoder(max_events)

    def rows(self, body: bytes, *, at: datetime) -> list[EventRow] | None:
        if not _plain(body):
            return None
        try:
            events = self.decoder.decode(body).events
        except msgspec.MsgspecError:
            return None
        # The body's object and list, each event's object and each properties object: with no
        # more `{` or `[` in the body, no properties hold an object or a list (nor does any
        # text hold a bracket), and msgspec may write them.
        containers = 2 + len(events) + sum(event.properties is not None for event in events)
        flat = body.count(b"{") + body.count(b"[") == containers
        earliest, latest = at - MAX_PAST, at + MAX_FUTURE
        encode = _ENCODER.encode
        rows = []
        for event in events:
            event_id, name = event.event_id, event.event_name
            customer = event.external_customer_id
            if name.isspace() or customer.isspace():
                return None
            if event_id is None:
                event_id = str(uuid.uuid4())
            elif event_id.isspace():
                return None
            if event.timestamp is None:
                timestamp = at
            else:
                try:
                    timestamp = datetime.fromisoformat(event.timestamp)
                    if timestamp.tzinfo is None:
                        return None
                    timestamp = timestamp.astimezone(UTC)
                except (ValueError, OverflowError):
                    return None
                if not earliest <= timestamp <= latest:
                    return None
            properties = event.properties
            if not properties:
                text = "{}"
            elif flat:
                text = encode(properties).decode()
                if len(text) > MAX_PROPERTIES_BYTES:
                    return None
            else:
                try:
                    text = encode_properties(properties)
                except PropertiesInvalid:
                    return None
            rows.append(EventRow(event_id, name, customer.strip(), timestamp, text))
        return rows


def _plain(body: bytes) -> bool:
    """True when no text in the body could hold what the careful checks refuse, and no number
    could be out of bounds (module docstring, step 1)."""
    if not body.isascii() or b"\\" in body or b"\x7f" in body:
        return False
    translated = body.translate(_TRANSLATED)
    if _LONG_RUN in translated:
        return False
    return not any(pattern.search(translated) for pattern in _EXPONENTS)
