"""The customer's own ways to pay, from the hosted invoice page, through Stripe Checkout:
"Pay now" (payment mode, for what is still owed) and "Save a card" (setup mode, the payment
method later attempts charge off-session). Both are settled by Checkout's webhooks."""

from invoices.documents import invoice_hosted_url
from invoices.models import Invoice
from payments.gateway import stripe_checkout_session, stripe_customer_ensure
from payments.selectors import OPEN, invoice_amount_remaining
from payments.services.ledger import PaymentStateError
from payments.stripe_units import to_stripe_amount


def invoice_checkout_url(*, invoice: Invoice, mode: str) -> str:
    """The URL of a new Checkout session for the invoice: mode "payment" pays what is still
    owed, mode "setup" saves a payment method. Raises PaymentStateError when nothing is owed."""
    if invoice.status not in OPEN:
        raise PaymentStateError(f"Invoice {invoice} is {invoice.status}: nothing to pay.")
    remaining = invoice_amount_remaining(invoice=invoice)
    if mode == "payment" and remaining <= 0:
        raise PaymentStateError(f"Invoice {invoice} is paid.")
    stripe_customer = stripe_customer_ensure(customer=invoice.customer)
    back = invoice_hosted_url(invoice=invoice)
    metadata = {"tally_invoice_id": str(invoice.pk), "invoice_number": invoice.number or ""}
    params = {
        "mode": mode,
        "customer": stripe_customer.stripe_customer_id,
        "success_url": f"{back}?checkout=done",
        "cancel_url": back,
        "client_reference_id": str(invoice.pk),
        "metadata": metadata,
    }
    if mode == "payment":
        metadata = {**metadata, "tally_amount": str(remaining)}
        params["metadata"] = metadata
        params["line_items"] = [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": to_stripe_amount(remaining, invoice.currency),
                    "product_data": {"name": f"Invoice {invoice.number}"},
                },
            }
        ]
        params["payment_intent_data"] = {"metadata": metadata, "setup_future_usage": "off_session"}
    else:
        params["currency"] = invoice.currency.lower()
        params["payment_method_types"] = ["card"]
    return stripe_checkout_session(params=params).url
