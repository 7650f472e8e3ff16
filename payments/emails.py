"""The payment emails to customers, in one place so they can move to the platform's email
templates later: a failed payment (with the hosted invoice link and the next retry)."""

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from catalog.currencies import money_display
from invoices.documents import invoice_hosted_url
from invoices.models import Invoice
from invoices.pdf import date_display

logger = logging.getLogger(__name__)


def email_payment_failed(
    *, invoice: Invoice, amount_remaining, failure_message: str, next_retry_at: datetime | None
) -> bool:
    """Tell the customer a payment of the invoice failed, with the link to pay it themselves.
    Returns False (and logs why) when the customer has no email address."""
    customer = invoice.customer
    if not customer.email:
        logger.info("Payment failure of %s not emailed: no email address", invoice.number)
        return False
    company = settings.TALLY_COMPANY
    context = {
        "company": company,
        "invoice": invoice,
        "customer": customer,
        "amount": money_display(amount_remaining, invoice.currency),
        "failure_message": failure_message,
        "next_retry": date_display(next_retry_at.date()) if next_retry_at else None,
        "hosted_url": invoice_hosted_url(invoice=invoice),
    }
    message = EmailMultiAlternatives(
        subject=f"Payment of invoice {invoice.number} failed",
        body=render_to_string("payments/email/payment_failed.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
        reply_to=[company["email"]] if company.get("email") else None,
    )
    message.send()
    return True
