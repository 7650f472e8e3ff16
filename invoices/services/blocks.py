"""Billing blocked: a subscription whose cycle close failed, recorded so an operator sees it.

The close calls `billing_block_record` from its error paths; the subscription is then
listed in the admin ("Billing blocked" filter, with the reason and since when), kept out of
the batched close (billed one by one, so it never drags a batch down), and cleared by the next
period it closes (`subscription_advance_period`). docs/operations.md says what to do.
"""

from datetime import datetime

from customers.models import Subscription

MAX_REASON = 2000


def billing_block_record(*, subscription_id: int, error: BaseException, at: datetime) -> None:
    """Record that closing this subscription failed at `at` with `error` (the latest reason)."""
    reason = f"{type(error).__name__}: {error}"[:MAX_REASON]
    Subscription.objects.filter(pk=subscription_id, billing_blocked_at__isnull=True).update(
        billing_blocked_at=at
    )
    Subscription.objects.filter(pk=subscription_id).update(billing_blocked_reason=reason)
