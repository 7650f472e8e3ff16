"""Finance reads: the monthly revenue report and the receivables aging (docs/operations.md,
"Finance"). Amounts are kept per currency and never added across currencies."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db.models import Q, Sum

from finance.models import RevenueEntry
from finance.recognition import ZERO, months_between
from finance.services import exact_sum
from invoices.models import CreditNote, CreditNoteStatus, Invoice, InvoiceKind, InvoiceStatus
from payments.selectors import amounts_paid_as_of

# --- revenue ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevenueMonth:
    """One month of one currency. deferred: billed by the month's end but recognised later
    (contract liability); unbilled: recognised by the month's end but billed later (usage of
    the month invoiced after it: contract asset)."""

    month: date
    billed: Decimal
    recognised: Decimal
    deferred: Decimal
    unbilled: Decimal


@dataclass(frozen=True, slots=True)
class CurrencyRevenue:
    currency: str
    months: list[RevenueMonth]

    @property
    def billed(self) -> Decimal:
        return sum((month.billed for month in self.months), ZERO)

    @property
    def recognised(self) -> Decimal:
        return sum((month.recognised for month in self.months), ZERO)


def revenue_report(
    *, first_month: date, last_month: date, currency: str = ""
) -> list[CurrencyRevenue]:
    """Per currency (in code order), each month of [first_month, last_month]: revenue billed
    (schedules issued in it: invoice lines net of discounts, less credit notes and voids),
    recognised, and the deferred and unbilled balances at its end. One grouped read of the
    entries: (currency, billed month, recognition month) → Σ amount."""
    entries = RevenueEntry.objects.filter(
        Q(billed_month__lte=last_month) | Q(month__lte=last_month)
    )
    if currency:
        entries = entries.filter(currency=currency)
    groups: dict[str, list[tuple[date, date, Decimal]]] = defaultdict(list)
    for row in (
        entries.values("currency", "billed_month", "month")
        .annotate(total=Sum("amount"))
        .order_by("currency", "billed_month", "month")
    ):
        total = exact_sum(row["total"], row["currency"])
        groups[row["currency"]].append((row["billed_month"], row["month"], total))
    report = []
    for code, cells in sorted(groups.items()):
        months = [_revenue_month(month, cells) for month in months_between(first_month, last_month)]
        if any(m.billed or m.recognised or m.deferred or m.unbilled for m in months):
            report.append(CurrencyRevenue(code, months))
    return report


def _revenue_month(month: date, cells: list[tuple[date, date, Decimal]]) -> RevenueMonth:
    billed = recognised = deferred = unbilled = ZERO
    for billed_month, recognised_month, amount in cells:
        if billed_month == month:
            billed += amount
        if recognised_month == month:
            recognised += amount
        if billed_month <= month < recognised_month:
            deferred += amount
        if recognised_month <= month < billed_month:
            unbilled += amount
    return RevenueMonth(month, billed, recognised, deferred, unbilled)


# --- receivables aging -----------------------------------------------------------------------

# (key, label, the most days past due it holds; None: no limit)
AGING_BUCKETS = (
    ("current", "Current", 0),
    ("days_1_30", "1–30", 30),
    ("days_31_60", "31–60", 60),
    ("days_61_90", "61–90", 90),
    ("days_over_90", "90+", None),
)


def aging_bucket(days_past_due: int) -> str:
    """The bucket of an amount `days_past_due` days past its due date (0 or less: current)."""
    for key, _, most in AGING_BUCKETS:
        if most is None or days_past_due <= most:
            return key
    raise AssertionError("the last bucket has no limit")


@dataclass
class AgingRow:
    customer: str  # external id
    customer_name: str
    currency: str
    buckets: dict[str, Decimal] = field(
        default_factory=lambda: {key: ZERO for key, _, _ in AGING_BUCKETS}
    )
    invoices: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: date
    rows: list[AgingRow]  # by currency, then customer
    totals: list[AgingRow]  # one per currency (customer "")


def receivables_aging(*, as_of: date) -> AgingReport:
    """What customers owed at the end of `as_of` (UTC), by how many days past due: each invoice
    issued by then and not voided by then, its amount due less what had been paid (payments
    less refunds settled by then) and credited (credit notes issued and not voided by then),
    in the bucket of as_of − due date (an invoice without a due date is due when issued)."""
    end = datetime.combine(as_of, time.max, tzinfo=UTC)
    invoices = (
        Invoice.objects.filter(issued_at__lte=end, amount_due__gt=0)
        .exclude(status=InvoiceStatus.DRAFT)
        .exclude(kind=InvoiceKind.CREDIT_NOTE)
        .exclude(voided_at__lte=end)
    )
    paid = amounts_paid_as_of(invoice_ids=invoices.values("pk"), at=end)
    credited = _credited_as_of(invoice_ids=invoices.values("pk"), end=end)
    rows: dict[tuple[str, str], AgingRow] = {}
    for invoice in invoices.select_related("customer").order_by("pk").iterator(chunk_size=2000):
        owed = invoice.amount_due - paid.get(invoice.pk, ZERO) - credited.get(invoice.pk, ZERO)
        if owed <= ZERO:
            continue
        due = invoice.due_date or invoice.issued_at.date()
        customer = invoice.customer
        row = rows.setdefault(
            (invoice.currency, customer.external_id),
            AgingRow(customer.external_id, customer.name, invoice.currency),
        )
        row.buckets[aging_bucket((as_of - due).days)] += owed
        row.invoices += 1
    ordered = [rows[key] for key in sorted(rows)]
    totals: dict[str, AgingRow] = {}
    for row in ordered:
        total = totals.setdefault(row.currency, AgingRow("", "Total", row.currency))
        for key, amount in row.buckets.items():
            total.buckets[key] += amount
        total.invoices += row.invoices
    return AgingReport(as_of, ordered, [totals[code] for code in sorted(totals)])


def _credited_as_of(*, invoice_ids, end: datetime) -> dict[int, Decimal]:
    """{invoice id: Σ total of its credit notes issued by `end` and not voided by then}."""
    notes = (
        CreditNote.objects.filter(invoice_id__in=invoice_ids, issued_at__lte=end)
        .exclude(status=CreditNoteStatus.VOID, voided_at__lte=end)
        .values("invoice_id")
        .annotate(total=Sum("total"))
    )
    return {row["invoice_id"]: row["total"] for row in notes}
