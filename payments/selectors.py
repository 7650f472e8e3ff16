"""Reads over the payment ledger: what each invoice has been paid and still owes (the one place
that answers it), the dunning state of an invoice, receivables and overdue invoices."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from invoices.balances import InvoiceBalance, PaymentState
from invoices.models import Invoice, InvoiceStatus
from payments.gateway import stripe_enabled
from payments.models import COLLECTED, Gateway, Payment, PaymentStatus, Refund

ZERO = Decimal(0)
# Invoices a customer still owes on (an uncollectible one stays owed).
OPEN = (InvoiceStatus.FINALIZED, InvoiceStatus.UNCOLLECTIBLE)


def _paid_by_invoice(invoice_ids, at: datetime | None = None) -> dict[int, Decimal]:
    """{invoice id: collected − refunded}, two queries whatever the number of invoices.

    `at`: only what had settled by then (a payment by its settled_at, else its created_at; a
    refund by refunded_at), for the receivables aging as of a past date."""
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    payments = Payment.objects.filter(invoice_id__in=invoice_ids, status__in=COLLECTED)
    refunds = Refund.objects.filter(payment__invoice_id__in=invoice_ids)
    if at is not None:
        payments = payments.alias(settled=Coalesce("settled_at", "created_at")).filter(
            settled__lte=at
        )
        refunds = refunds.filter(refunded_at__lte=at)
    collected = payments.values("invoice_id").annotate(total=Sum("amount"))
    for row in collected:
        paid[row["invoice_id"]] += row["total"]
    refunded = refunds.values("payment__invoice_id").annotate(total=Sum("amount"))
    for row in refunded:
        paid[row["payment__invoice_id"]] -= row["total"]
    return paid


def balance_of(invoice: Invoice, amount_paid: Decimal) -> InvoiceBalance:
    if invoice.status == InvoiceStatus.DRAFT:
        return InvoiceBalance(amount_paid, invoice.amount_due, PaymentState.DRAFT)
    if invoice.status == InvoiceStatus.VOID:
        return InvoiceBalance(amount_paid, ZERO, PaymentState.VOID)
    # Credit notes take their applied part off what is owed (docs/operations.md, "Credit notes").
    remaining = max(invoice.amount_due - invoice.amount_credited - amount_paid, ZERO)
    if remaining == ZERO:
        status = PaymentState.PAID
    elif amount_paid > ZERO:
        status = PaymentState.PARTIALLY_PAID
    else:
        status = PaymentState.UNPAID
    payable = remaining > ZERO and invoice.status in OPEN and stripe_enabled()
    return InvoiceBalance(amount_paid, remaining, status, payable)


def invoice_balances(invoices: list[Invoice]) -> dict[int, InvoiceBalance]:
    """{invoice id: InvoiceBalance}: registered with invoices.balances at startup."""
    paid = _paid_by_invoice([invoice.id for invoice in invoices])
    return {invoice.id: balance_of(invoice, paid[invoice.id]) for invoice in invoices}


def invoice_amount_paid(*, invoice: Invoice) -> Decimal:
    return _paid_by_invoice([invoice.id])[invoice.id]


def invoice_amount_remaining(*, invoice: Invoice) -> Decimal:
    """What is still owed on the invoice: its amount due less what the ledger has collected."""
    return balance_of(invoice, invoice_amount_paid(invoice=invoice)).amount_remaining


def payment_list(*, invoice_id: int | None = None) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("invoice").prefetch_related("refunds")
    if invoice_id is not None:
        payments = payments.filter(invoice_id=invoice_id)
    return payments.order_by("created_at", "id")


def payment_refunded(*, payment: Payment) -> Decimal:
    return payment.refunds.aggregate(
        total=Coalesce(Sum("amount"), Value(ZERO, output_field=DecimalField()))
    )["total"]


# --- Dunning -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DunningState:
    failures: int  # failed automatic attempts since the last success
    first_failed_at: datetime | None
    next_retry_at: datetime | None  # None: no retry left (or none needed)
    exhausted: bool  # every retry of the schedule has failed


def invoice_dunning_state(*, invoice: Invoice) -> DunningState:
    """Where the invoice stands on the retry schedule (PAYMENT_RETRY_DAYS after the first
    failure), computed from its Stripe attempts."""
    attempts = list(
        Payment.objects.filter(invoice=invoice, gateway=Gateway.STRIPE, attempt__isnull=False)
        .order_by("attempt")
        .values_list("status", "settled_at")
    )
    failures = [settled for status, settled in attempts if status == PaymentStatus.FAILED]
    if not failures or (attempts and attempts[-1][0] != PaymentStatus.FAILED):
        return DunningState(len(failures), failures[0] if failures else None, None, False)
    schedule = settings.PAYMENT_RETRY_DAYS
    first = failures[0]
    retries_done = len(failures) - 1
    if retries_done >= len(schedule):
        return DunningState(len(failures), first, None, True)
    return DunningState(len(failures), first, first + timedelta(days=schedule[retries_done]), False)


def invoices_due_for_retry(*, at: datetime) -> list[Invoice]:
    """Open invoices whose last automatic attempt failed and whose next retry is due at `at`."""
    candidates = Invoice.objects.filter(
        status=InvoiceStatus.FINALIZED,
        pk__in=Payment.objects.filter(
            gateway=Gateway.STRIPE, status=PaymentStatus.FAILED, attempt__isnull=False
        ).values("invoice_id"),
    ).select_related("customer")
    due = []
    for invoice in candidates.order_by("pk"):
        state = invoice_dunning_state(invoice=invoice)
        if state.next_retry_at is not None and state.next_retry_at <= at:
            due.append(invoice)
    return due


# --- Receivables ---------------------------------------------------------------------------


def invoices_overdue(*, today: date) -> QuerySet[Invoice]:
    """Issued, unpaid invoices whose due date has passed (a partly paid one included)."""
    return Invoice.objects.filter(status__in=OPEN, due_date__lt=today, amount_due__gt=0)


@dataclass(frozen=True, slots=True)
class Receivables:
    currency: str
    outstanding: Decimal
    overdue: Decimal
    overdue_invoices: int


def customer_receivables(*, customer_id: int, today: date) -> list[Receivables]:
    """Per currency, what the customer owes on its issued invoices and how much of it is
    overdue."""
    return receivables(today=today, customer_id=customer_id)


def receivables(*, today: date, customer_id: int | None = None) -> list[Receivables]:
    """Per currency, what is owed on issued invoices (of one customer, or of all) and how much
    of it is overdue: the console's dashboard and customer page."""
    invoices = Invoice.objects.filter(status__in=OPEN)
    if customer_id is not None:
        invoices = invoices.filter(customer_id=customer_id)
    invoices = list(invoices)
    balances = invoice_balances(invoices)
    totals: dict[str, list] = {}
    for invoice in invoices:
        remaining = balances[invoice.id].amount_remaining
        if remaining <= ZERO:
            continue
        row = totals.setdefault(invoice.currency, [ZERO, ZERO, 0])
        row[0] += remaining
        if invoice.due_date and invoice.due_date < today:
            row[1] += remaining
            row[2] += 1
    return [Receivables(currency, *row) for currency, row in sorted(totals.items())]


def amounts_paid_as_of(*, invoice_ids, at: datetime) -> dict[int, Decimal]:
    """{invoice id: what had been paid on it by `at`} (finance's receivables aging);
    `invoice_ids` may be a subquery."""
    return _paid_by_invoice(invoice_ids, at=at)


def days_overdue(*, invoice: Invoice, today: date) -> int:
    if not invoice.due_date or invoice.due_date >= today:
        return 0
    return (today - invoice.due_date).days


def has_collected_payments(*, invoice: Invoice) -> bool:
    return Payment.objects.filter(Q(invoice=invoice) & Q(status__in=COLLECTED)).exists()
