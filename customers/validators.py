"""Field validators of customers, run by the services and by the admin forms alike."""

import re

from django.core.exceptions import ValidationError

from catalog.currencies import is_known_currency

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def validate_currency_code(value: str) -> None:
    if value and not is_known_currency(value):
        raise ValidationError(f"'{value}' is not a known ISO 4217 currency code (e.g. USD).")


def validate_country_code(value: str) -> None:
    if value and not COUNTRY_CODE.match(value):
        raise ValidationError(f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. US).")


def validate_external_id(value: str) -> None:
    """An id usable in a URL path segment and in events: no slash, no control characters."""
    if "/" in value:
        raise ValidationError(
            "external_id cannot contain '/': it is a segment of /api/v1/customers/{external_id}."
        )
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValidationError("external_id cannot contain control characters.")
