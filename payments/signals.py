"""Signals the payments app sends, each inside the transaction of the change it announces, so
the platform's outgoing webhooks and customer emails can follow payments without payments
importing them. A receiver that reaches the outside world queues its work with
transaction.on_commit.

- invoice_paid: kwargs invoice (the Invoice, now "paid"), at.
- payment_succeeded: kwargs payment (the Payment, now "succeeded"), at.
- payment_failed: kwargs payment (the Payment, now "failed"), at.
"""

from django.dispatch import Signal

invoice_paid = Signal()
payment_succeeded = Signal()
payment_failed = Signal()
