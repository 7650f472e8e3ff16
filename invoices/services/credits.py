"""Prepaid credits applied to an invoice when it is finalized (docs/architecture.md, "Wallets").

The customer's wallet in the invoice's currency pays as much of the total as it holds, in the
wallet's spending order; credits_applied and amount_due = max(total − credits_applied, 0) are
set on the invoice, which the caller saves in the finalizing transaction. A credit purchase
(buying credits with credits) and a credit note take none.
"""

from datetime import datetime

from customers.models import Wallet
from customers.services.wallets import wallet_consume
from invoices.models import Invoice, InvoiceKind

NO_CREDITS = (InvoiceKind.CREDIT_PURCHASE, InvoiceKind.CREDIT_NOTE)
TOTAL_FIELDS = ("credits_applied", "amount_due")


def invoice_credits_apply(*, invoice: Invoice, at: datetime) -> bool:
    """Spend the customer's credits on `invoice` (saved, being finalized); True when any were.

    Idempotent per invoice (the wallet remembers what it spent on it); the wallet row stays
    locked until the finalizing transaction ends, so two finalizations never spend a credit
    twice.
    """
    if invoice.kind in NO_CREDITS or invoice.total <= 0:
        return False
    applied = wallet_consume(
        customer=invoice.customer,
        currency=invoice.currency,
        amount=invoice.total,
        invoice_ref=invoice.pk,
        at=at,
    )
    if applied.amount <= 0:
        return False
    invoice.credits_applied = applied.amount
    invoice.amount_due = max(invoice.total - applied.amount, 0)
    return True


def invoices_credits_apply(*, invoices: list[Invoice], at: datetime) -> None:
    """invoice_credits_apply for invoices just finalized in bulk (the cycle close), saving the
    ones that took credits; one query when none of their customers has a wallet."""
    customer_ids = {invoice.customer_id for invoice in invoices}
    with_wallets = set(
        Wallet.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True)
    )
    for invoice in invoices:
        if invoice.customer_id in with_wallets and invoice_credits_apply(invoice=invoice, at=at):
            Invoice.objects.filter(pk=invoice.pk).update(
                credits_applied=invoice.credits_applied, amount_due=invoice.amount_due
            )
