"""The payments app's actions (writes): manual payments, Stripe attempts and dunning, refunds,
Checkout from the hosted page, webhook processing, and what follows a finalization."""

from payments.services.attempts import (
    NoPaymentMethod,
    attempt_key,
    invoice_attempt_payment,
    payments_retry_due,
)
from payments.services.checkout import invoice_checkout_url
from payments.services.ledger import (
    PaymentStateError,
    invoice_settle,
    payment_mark_failed,
    payment_mark_succeeded,
)
from payments.services.manual import MANUAL_METHODS, payment_record_manual
from payments.services.refunds import payment_refund
from payments.services.webhooks import (
    WebhookRefused,
    webhook_process,
    webhook_process_failed,
    webhook_store,
)

__all__ = [
    "MANUAL_METHODS",
    "NoPaymentMethod",
    "PaymentStateError",
    "WebhookRefused",
    "attempt_key",
    "invoice_attempt_payment",
    "invoice_checkout_url",
    "invoice_settle",
    "payment_mark_failed",
    "payment_mark_succeeded",
    "payment_record_manual",
    "payment_refund",
    "payments_retry_due",
    "webhook_process",
    "webhook_process_failed",
    "webhook_store",
]
