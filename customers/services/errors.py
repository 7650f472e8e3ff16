"""The refusal that is a clash with existing state (answered 409), not bad input (400)."""

from django.core.exceptions import ValidationError


class StateConflict(ValidationError):
    """The request is valid but conflicts with what exists (a taken id, a live subscription)."""
