"""The refusals of catalog services: field errors (400 in the API) and a taken code (409)."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError


def _flat_messages(errors, *, label: str = "") -> list[str]:
    if isinstance(errors, dict):
        messages = []
        for key, value in errors.items():
            part = f"charge {int(key) + 1}" if str(key).isdigit() else str(key)
            messages.extend(_flat_messages(value, label=f"{label}, {part}" if label else part))
        return messages
    return [f"{label.capitalize()}: {message}" if label else message for message in errors]


class CatalogValidationError(ValidationError):
    """Field errors, nested the way the API returns them: {"charges": {"0": {"tiers": [...]}}}.

    It is a Django ValidationError too, whose `message_dict` holds one readable message list per
    top-level field ("Charge 1, tiers: Only the last tier may be unbounded (up_to empty).").
    """

    def __init__(self, errors: dict):
        self.detail = errors
        super().__init__(
            {
                field: _flat_messages(value) if isinstance(value, dict) else list(value)
                for field, value in errors.items()
            }
        )


class CodeTaken(IntegrityError):
    """A meter or plan code that already exists (the API answers 409 Conflict)."""
