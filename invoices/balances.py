"""What has been paid on an invoice and what is still owed, as the payments app answers it.

invoices may not import payments (a lower layer never imports a higher one, docs/architecture.md),
so payments registers its ledger selector here when it starts (payments/apps.py). Without it,
nothing has been paid on any invoice. The API's invoice shape and the hosted page read their
payment figures through this module only.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from invoices.models import Invoice, InvoiceStatus


class PaymentState:
    """The invoice's payment_status in the API."""

    DRAFT = "draft"
    VOID = "void"
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class InvoiceBalance:
    amount_paid: Decimal
    amount_remaining: Decimal
    payment_status: str
    # The customer may pay it online now (the Stripe gateway is on and something is owed).
    payable_online: bool = False


BalanceProvider = Callable[[list[Invoice]], dict[int, InvoiceBalance]]
_provider: BalanceProvider | None = None


def register_balance_provider(provider: BalanceProvider) -> None:
    """Called once by the payments app: `provider(invoices)` → {invoice id: InvoiceBalance}."""
    global _provider
    _provider = provider


def unpaid_balance(invoice) -> InvoiceBalance:
    """The balance of an invoice nothing was paid on (also: a preview, which has no id)."""
    if invoice.status == InvoiceStatus.DRAFT or not invoice.id:
        return InvoiceBalance(Decimal(0), invoice.amount_due, PaymentState.DRAFT)
    if invoice.status == InvoiceStatus.VOID:
        return InvoiceBalance(Decimal(0), Decimal(0), PaymentState.VOID)
    if invoice.status == InvoiceStatus.PAID:
        return InvoiceBalance(Decimal(0), Decimal(0), PaymentState.PAID)
    owed = max(invoice.amount_due - getattr(invoice, "amount_credited", Decimal(0)), Decimal(0))
    return InvoiceBalance(Decimal(0), owed, PaymentState.UNPAID)


def invoice_balances(*, invoices: Iterable) -> dict[int, InvoiceBalance]:
    """{invoice id: balance} for saved invoices, in one read of the ledger."""
    saved = [invoice for invoice in invoices if getattr(invoice, "id", None)]
    if _provider is None:
        return {invoice.id: unpaid_balance(invoice) for invoice in saved}
    return _provider(saved)


def invoice_balance(*, invoice) -> InvoiceBalance:
    """The balance of one invoice (an unsaved preview owes its whole amount due)."""
    if not getattr(invoice, "id", None):
        return unpaid_balance(invoice)
    return invoice_balances(invoices=[invoice])[invoice.id]


@dataclass(frozen=True, slots=True)
class PaymentWording:
    """What the customer reads about paying: "Paid on …", "Due on …", "Overdue since …"."""

    state: str  # paid, due, overdue, void, uncollectible
    headline: str
    overdue: bool


def invoice_payment_wording(
    *, invoice: Invoice, balance: InvoiceBalance, today: date, format_date: Callable[[date], str]
) -> PaymentWording:
    """The words of the hosted page and the PDF for the invoice's state on `today`; never the
    internal word "finalized"."""
    if invoice.status == InvoiceStatus.VOID:
        return PaymentWording("void", "This invoice was voided: nothing is owed on it.", False)
    if invoice.status == InvoiceStatus.PAID or (
        balance.payment_status == PaymentState.PAID and invoice.status != InvoiceStatus.DRAFT
    ):
        paid_on = invoice.paid_at or invoice.issued_at
        when = f" on {format_date(_day(paid_on))}" if paid_on else ""
        return PaymentWording("paid", f"Paid{when}", False)
    if invoice.due_date and today > invoice.due_date:
        since = format_date(invoice.due_date + timedelta(days=1))
        return PaymentWording("overdue", f"Overdue since {since}", True)
    if invoice.status == InvoiceStatus.UNCOLLECTIBLE:
        return PaymentWording("uncollectible", "Payment could not be collected", False)
    if invoice.due_date:
        return PaymentWording("due", f"Due on {format_date(invoice.due_date)}", False)
    return PaymentWording("due", "Due on receipt", False)


def _day(moment: datetime) -> date:
    return moment.date()
