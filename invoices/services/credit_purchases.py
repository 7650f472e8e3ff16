"""Paid top-ups: buying prepaid credits raises a `credit_purchase` invoice; the credits land in
the wallet when it is paid (payments.services.credit_purchases, on invoice_paid).

What was bought (amount, priority, expiry, reason, who) rides on the invoice's one line, in its
breakdown under "credit_purchase", so the invoice alone says what its payment buys.
"""

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from catalog.currencies import format_money
from customers.models import Customer
from customers.services.wallets import wallet_credit_validate, wallet_for
from invoices.models import Invoice, InvoiceKind, InvoiceLine, LineKind
from invoices.services.lifecycle import invoice_finalize

PURCHASE_KEY = "credit_purchase"


@transaction.atomic
def credit_purchase_create(
    *,
    customer: Customer,
    currency: str,
    amount,
    at: datetime,
    expires_at: datetime | None = None,
    priority: int | None = None,
    reason: str = "",
    created_by: str = "",
) -> Invoice:
    """Issue the invoice for `amount` of credits (finalized at once: numbered, PDF, charged
    through Stripe when it is on). Bounds as for a grant (customers.services.wallets)."""
    wallet = wallet_for(customer=customer, currency=currency)
    amount, priority = wallet_credit_validate(
        currency=wallet.currency, amount=amount, expires_at=expires_at, priority=priority, at=at
    )
    draft = Invoice.objects.create(
        customer=customer,
        kind=InvoiceKind.CREDIT_PURCHASE,
        currency=wallet.currency,
        subtotal=amount,
        total=amount,
        amount_due=amount,
    )
    InvoiceLine.objects.create(
        invoice=draft,
        kind=LineKind.PREPAID_CREDITS,
        description=f"Prepaid credits ({format_money(amount, wallet.currency)} {wallet.currency})",
        quantity=Decimal("1"),
        unit_amount=amount,
        amount=amount,
        breakdown={
            PURCHASE_KEY: {
                "amount": str(amount),
                "priority": priority,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "reason": (reason or "")[:500],
                "created_by": (created_by or "")[:255],
            }
        },
    )
    return invoice_finalize(invoice=draft, at=at, refresh=False)


def credit_purchase_terms(*, invoice: Invoice) -> dict | None:
    """What a paid credit-purchase invoice buys (its line's terms), or None for other kinds."""
    if invoice.kind != InvoiceKind.CREDIT_PURCHASE:
        return None
    line = invoice.lines.filter(kind=LineKind.PREPAID_CREDITS).first()
    return None if line is None else line.breakdown.get(PURCHASE_KEY)
