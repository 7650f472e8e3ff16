"""django-q2 entry points of the invoices app (thin wrappers over services)."""

from django.utils import timezone

from invoices.services import cycles_close


def close_cycles_task() -> str:
    """The "close-cycles" schedule (every minute): the cycle close at now."""
    return cycles_close(at=timezone.now()).summary()
