"""The API's JSON parser: DRF's, refusing text the database cannot store (a 400, not a 500).

Kept apart from `billing.api`: DRF imports the parser classes named in its settings while
`rest_framework.views` loads, so this module must not import that.
"""

import json
import re
from collections.abc import Mapping

from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser

# PostgreSQL refuses NUL in text and unpaired surrogates in JSON; no request may carry them.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."


def unstorable_path(value: object, path: str = "") -> str | None:
    """The path ("metadata.note") of the first text holding NUL or a lone surrogate, or None."""
    if isinstance(value, str):
        return path or "body" if UNSTORABLE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and UNSTORABLE.search(key):
                return path or "body"
            found = unstorable_path(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_path(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSON parsing, refusing text the database cannot store (a field error, not a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding)
            parsed = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from error
        where = unstorable_path(parsed)
        if where:
            raise serializers.ValidationError({where: [UNSTORABLE_MESSAGE]})
        return parsed


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
