"""django-q2 entry points of the payments app: thin wrappers over its services."""

import logging

from django.utils import timezone

from invoices.models import Invoice
from payments.gateway import GatewayError
from payments.services import NoPaymentMethod, invoice_attempt_payment, payments_retry_due

logger = logging.getLogger(__name__)


def attempt_payment_task(invoice_id: int) -> str:
    """The off-session attempt queued at finalization (or after a card was saved)."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    try:
        payment = invoice_attempt_payment(invoice=invoice, at=timezone.now())
    except NoPaymentMethod as reason:
        return str(reason)
    except GatewayError as error:
        # The attempt stays pending; the retry-payments schedule sends it again, same key.
        logger.warning("Payment attempt on invoice %s got no answer: %s", invoice, error)
        return f"no answer from Stripe: {error}"
    return "nothing to charge" if payment is None else f"payment {payment.pk}: {payment.status}"


def retry_payments_task() -> str:
    attempts = payments_retry_due(at=timezone.now())
    return f"{len(attempts)} payment attempt(s)"
