"""django-q2 entry points of the invoices app (thin wrappers over services)."""

from datetime import timedelta

from django.utils import timezone

from invoices.services import cycles_close, invoices_verify

# The daily run re-checks what was issued since the day before yesterday (a missed day is
# caught up); `manage.py verify_invoices` checks any range.
VERIFY_LOOKBACK = timedelta(days=2)


def close_cycles_task() -> str:
    """The "close-cycles" schedule (every minute): the cycle close at now."""
    return cycles_close(at=timezone.now()).summary()


def verify_invoices_task() -> str:
    """The "verify-invoices" schedule (daily): the invoices issued in the last two days."""
    at = timezone.now()
    return invoices_verify(at=at, since=at - VERIFY_LOOKBACK).summary()
