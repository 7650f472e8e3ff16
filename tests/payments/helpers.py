"""Helpers of the payments tests: issued invoices and saved cards on localstripe."""

from datetime import UTC, datetime
from decimal import Decimal

from invoices.services import invoice_finalize
from payments.gateway import stripe_client, stripe_customer_ensure
from payments.models import StripeCustomer
from tests.factories import CustomerFactory, FinalizedInvoiceFactory

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then every charge is declined


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def saved_card(customer, number: str = GOOD_CARD) -> StripeCustomer:
    """Give the customer a Stripe customer with `number` as its saved payment method."""
    client = stripe_client()
    stripe_customer = stripe_customer_ensure(customer=customer)
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    )
    client.v1.payment_methods.attach(
        method.id, params={"customer": stripe_customer.stripe_customer_id}
    )
    stripe_customer.default_payment_method_id = method.id
    stripe_customer.save()
    return stripe_customer


def issued_invoice(*, amount="120.00", currency="USD", at=None, customer=None, **fields):
    """A draft for `amount`, finalized through the invoices app's service (so payments reacts
    to invoice_finalized as in production)."""
    customer = customer or CustomerFactory(currency=currency)
    draft = FinalizedInvoiceFactory(
        customer=customer,
        status="draft",
        number=None,
        issued_at=None,
        due_date=None,
        currency=currency,
        subtotal=Decimal(amount),
        total=Decimal(amount),
        amount_due=Decimal(amount),
        **fields,
    )
    return invoice_finalize(invoice=draft, at=at or utc(2026, 2, 1, 0, 5), refresh=False)
