"""Input plumbing shared by the customers API: strict objects and aware datetimes."""

from collections.abc import Mapping
from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error and never silently dropped."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {key: ["Unknown field."] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**unknown, **error.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time WITH a UTC offset; a naive or unparsable value is refused."""

    default_error_messages = {
        "invalid": "Not an ISO 8601 date and time: {input!r}.",
        "naive": "Include a UTC offset, e.g. 2026-01-31T00:00:00Z.",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", input=value)
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid", input=value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail("naive")
        return parsed.astimezone(UTC)
