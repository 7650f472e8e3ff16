"""django-q2 entry points of the invoices app (thin wrappers over services)."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from invoices.services import cycles_close, invoices_verify
from invoices.services.cycles import subscriptions_bill_queued

logger = logging.getLogger(__name__)

# The daily run re-checks what was issued since the day before yesterday (a missed day is
# caught up); `manage.py verify_invoices` checks any range.
VERIFY_LOOKBACK = timedelta(days=2)


def close_cycles_task() -> str:
    """The "close-cycles" schedule (every minute): the cycle close at now, a large one queued
    in batches for every worker of the cluster (close_batch_task)."""
    return cycles_close(at=timezone.now(), queue=True).summary()


def close_batch_task(subscription_ids: list[int], at: datetime) -> str:
    """One batch of a queued cycle close: the invoices of these subscriptions due at `at`."""
    report = subscriptions_bill_queued(subscription_ids=subscription_ids, at=at)
    for error in report.errors:
        logger.error("Cycle close batch: %s", error)
    return report.summary()


def verify_invoices_task() -> str:
    """The "verify-invoices" schedule (daily): the invoices issued in the last two days."""
    at = timezone.now()
    return invoices_verify(at=at, since=at - VERIFY_LOOKBACK).summary()
