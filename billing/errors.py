"""The one application error: a refusal with a status meaning (invalid, not found, conflict).

Services of every app raise it; the API maps it to HTTP once (`billing.api.exception_handler`:
invalid → 400, not found → 404, conflict → 409), and forms and admin pages show its messages.
It is a Django ValidationError, so code that catches those (model forms, admin actions) keeps
working. This module imports nothing of ours, so any app may raise it (docs/architecture.md).
"""

from enum import StrEnum

from django.core.exceptions import ValidationError


class ErrorKind(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"


def _flat_messages(errors, *, label: str = "") -> list[str]:
    """Nested field errors as readable lines: {"charges": {"0": {"tiers": [m]}}} → "Charges,
    charge 1, tiers: m"."""
    if isinstance(errors, dict):
        messages = []
        for key, value in errors.items():
            part = f"charge {int(key) + 1}" if str(key).isdigit() else str(key)
            messages.extend(_flat_messages(value, label=f"{label}, {part}" if label else part))
        return messages
    if isinstance(errors, str):
        errors = [errors]
    return [f"{label.capitalize()}: {message}" if label else message for message in errors]


class AppError(ValidationError):
    """A refusal: `kind` says which (the HTTP status), `detail` what to show an API client.

    `message` is a text, or field errors as the API returns them, possibly nested
    ({"charges": {"0": {"tiers": ["…"]}}}); `message_dict` then holds one readable message list
    per top-level field.
    """

    def __init__(self, message: str | dict, *, kind: ErrorKind = ErrorKind.INVALID):
        self.kind = ErrorKind(kind)
        self.detail = message
        if isinstance(message, dict):
            super().__init__(
                {
                    field: _flat_messages(value) if isinstance(value, dict) else value
                    for field, value in message.items()
                }
            )
        else:
            super().__init__(message)

    @classmethod
    def conflict(cls, message: str | dict) -> "AppError":
        return cls(message, kind=ErrorKind.CONFLICT)

    @classmethod
    def not_found(cls, message: str | dict) -> "AppError":
        return cls(message, kind=ErrorKind.NOT_FOUND)

    def __str__(self) -> str:
        """The messages as a person reads them (an admin message, a log line)."""
        return " ".join(self.messages)
