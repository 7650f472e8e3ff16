"""Signals the customers app sends, so the apps above it (notifications: webhooks and emails)
can act on a subscription's life without customers importing them (a lower layer never
imports a higher one).

Each is sent inside the service's transaction, at its end, with keyword arguments
`subscription` (the Subscription as saved) and `at` (the service's moment). A receiver that
writes (an outbox row) writes in that transaction, so a rolled-back change leaves nothing;
one that reaches the outside world queues its work with transaction.on_commit.
"""

from django.dispatch import Signal

# A subscription was created (subscription_create).
subscription_created = Signal()
# A subscription's plan changed or a pending change was withdrawn (subscription_change_plan),
# or a period boundary changed its status: trial → active, or canceled/ended at its stop
# (subscription_advance_period).
subscription_updated = Signal()
# A cancellation was asked for, now or at the period's end (subscription_cancel).
subscription_canceled = Signal()
# A wallet's balance fell below its low-balance threshold (customers.services.wallets): kwargs
# `wallet`, `transaction` (the WalletTransaction that crossed it; once per crossing) and `at`.
wallet_low_balance = Signal()
