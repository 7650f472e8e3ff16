"""Input plumbing shared by the customers API: strict objects and aware datetimes."""

from collections.abc import Mapping
from datetime import UTC, datetime

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
        "range": "Out of range: from 2000-01-01 to 2199-12-31 (UTC).",
    }
    # The instants the API accepts at all; each service then applies its own window.
    EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
    LATEST = datetime(2200, 1, 1, tzinfo=UTC)

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
        try:
            moment = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            self.fail("range")
        if not self.EARLIEST <= moment < self.LATEST:
            self.fail("range")
        return moment
