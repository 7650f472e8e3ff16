"""A paid credit purchase lands its credits in the customer's wallet (the invoice_paid signal,
connected in payments/apps.py), once per invoice, in the paying transaction."""

from datetime import datetime
from decimal import Decimal

from django.utils.dateparse import parse_datetime

from customers.models import WalletTransactionKind
from customers.services.wallets import wallet_credit
from invoices.models import Invoice
from invoices.services.credit_purchases import credit_purchase_terms


def on_invoice_paid(sender, invoice: Invoice, at: datetime, **kwargs) -> None:
    terms = credit_purchase_terms(invoice=invoice)
    if terms is None:
        return
    expires_at = parse_datetime(terms["expires_at"]) if terms.get("expires_at") else None
    if expires_at is not None and expires_at <= at:
        # Paid after the date it was to expire: the customer gets what they paid for.
        expires_at = None
    wallet_credit(
        customer=invoice.customer,
        currency=invoice.currency,
        amount=Decimal(terms["amount"]),
        reason=terms.get("reason") or f"Purchase, invoice {invoice.number}",
        source_key=f"invoice:{invoice.pk}",
        created_by=terms.get("created_by", ""),
        expires_at=expires_at,
        priority=terms.get("priority"),
        kind=WalletTransactionKind.PURCHASE,
        invoice_ref=invoice.pk,
        at=at,
    )
