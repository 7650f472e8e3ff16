"""Revenue recognition: the schedules written when an invoice is issued, credited or voided
(docs/operations.md, "Finance", "How revenue is recognised").

- A line with a service window (recurring fees in advance or in arrears, proration charges and
  credits, usage) is recognised ratably by day over the window's days: an in-advance fee is
  deferred and earned month by month; usage is recognised in the days it was used in (a usage
  window is the billing period, or the on-demand hour, it was measured over).
- A line without a window (a setup fee) is recognised when billed.
- Revenue is the line's amount less its share of the coupon discount; tax is not revenue.
- A credit note line reverses revenue in proportion to how the credited line (or, for a
  credit on the whole invoice, the invoice) is recognised: what fell in months before the
  credit note's month is reversed in its month; the rest reduces the later months.
- Voiding an issued invoice reverses whatever of it is still in revenue, the same way; so does
  voiding a credit note (it puts back what the credit note took out).

Writes are idempotent: one schedule per line, credit note line or void (unique constraints),
made under the invoice's row lock, so the signals (invoice_finalized, credit_note_issued) and
the catch-up run (`revenue_sync`, the `revenue_backfill` command, which also picks up voids:
no signal announces them) never write one twice.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum

from billing.bulk import values_insert
from catalog.currencies import currency_exponent
from finance.models import RecognitionMethod, RevenueEntry, RevenueSchedule, RevenueSource
from finance.recognition import (
    ZERO,
    allocate,
    collapse_before,
    days_per_month,
    month_of,
    service_days,
)
from invoices.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from rating import round_money

# Invoices whose lines are not revenue: a paid wallet top-up is a prepayment (the revenue is
# the usage it later pays for, on the invoices that consume it); credit_note is the old kind
# credit notes replaced.
NOT_REVENUE_KINDS = (InvoiceKind.CREDIT_PURCHASE, InvoiceKind.CREDIT_NOTE)


@dataclass(frozen=True, slots=True)
class SyncReport:
    lines: int
    credit_note_lines: int
    voids: int

    def __str__(self) -> str:
        return (
            f"{self.lines} invoice line(s), {self.credit_note_lines} credit note line(s) and "
            f"{self.voids} void(s) given a revenue schedule."
        )


def on_invoice_finalized(sender, invoice: Invoice, **kwargs) -> None:
    """invoice_finalized receiver (finance/apps.py): inside the finalizing transaction, with the
    invoice locked by it, so its schedules are committed with it or not at all. Invoices the
    close finalized together (together=True) are done at once by on_invoices_finalized_together.
    """
    if kwargs.get("together"):
        return
    revenue_schedules_for_invoice(invoice=invoice)


def on_invoices_finalized_together(
    sender, invoices: list[Invoice], lines: list | None = None, **kwargs
) -> None:
    """invoices_finalized_together receiver: the close's invoices, one read and one write (no
    read when the invoices were created with their lines in this transaction)."""
    revenue_schedules_for_invoices(invoices=invoices, new_lines=lines)


def on_credit_note_issued(sender, credit_note: CreditNote, **kwargs) -> None:
    """credit_note_issued receiver: inside the issuing transaction (the invoice is locked by
    it), so the reversal is committed with the credit note."""
    revenue_schedules_for_credit_note(credit_note=credit_note)


def revenue_schedules_for_invoice(*, invoice: Invoice) -> int:
    """Give each line of an issued invoice that has none its schedule; the number written.
    Call with the invoice locked (the finalizing transaction, or `revenue_sync`)."""
    return revenue_schedules_for_invoices(invoices=[invoice])


def revenue_schedules_for_invoices(
    *, invoices: list[Invoice], new_lines: list | None = None
) -> int:
    """revenue_schedules_for_invoice for several invoices: their lines read in one query, the
    schedules and their months written in one bulk insert each.

    new_lines: the invoices were created in this transaction and these are their lines (none
    can have a schedule yet): nothing to read. Anything with an InvoiceLine's id, invoice_id,
    position, amount, discount, usage_start and usage_end will do (the close passes
    invoices.services.persist.SavedLine records).
    """
    issued = {
        invoice.pk: invoice
        for invoice in invoices
        if invoice.issued_at is not None and invoice.kind not in NOT_REVENUE_KINDS
    }
    if not issued:
        return 0
    if new_lines is not None:
        lines = sorted(
            (line for line in new_lines if line.invoice_id in issued),
            key=lambda line: (line.invoice_id, line.position, line.id),
        )
    else:
        lines = (
            InvoiceLine.objects.filter(invoice_id__in=issued)
            .exclude(revenue_schedules__source=RevenueSource.INVOICE_LINE)
            .order_by("invoice_id", "position", "id")
        )
    planned = []
    for line in lines:
        invoice = issued[line.invoice_id]
        billed_on = invoice.issued_at.date()
        billed_month = month_of(billed_on)
        amount = line.amount - line.discount
        if line.usage_start is not None and line.usage_end is not None:
            days = service_days(line.usage_start, line.usage_end)
            method, service_start, service_end = RecognitionMethod.RATABLE, days.first, days.end
            exponent = currency_exponent(invoice.currency)
            months = allocate(amount, days_per_month(days), exponent=exponent)
        else:
            method, service_start, service_end = RecognitionMethod.POINT_IN_TIME, None, None
            months = [(billed_month, amount)] if amount else []
        schedule = (
            RevenueSource.INVOICE_LINE,
            invoice.pk,
            line.id,
            None,
            None,
            invoice.customer_id,
            invoice.currency,
            method,
            amount,
            billed_on,
            billed_month,
            service_start,
            service_end,
        )
        planned.append((schedule, months))
    _save(planned)
    return len(planned)


def revenue_schedules_for_credit_note(*, credit_note: CreditNote) -> int:
    """Give each line of an issued credit note that has none its reversing schedule."""
    invoice = credit_note.invoice
    if invoice.kind in NOT_REVENUE_KINDS:
        return 0
    revenue_schedules_for_invoice(invoice=invoice)
    credit_lines = list(
        CreditNoteLine.objects.filter(credit_note_id=credit_note.pk)
        .exclude(revenue_schedules__source=RevenueSource.CREDIT_NOTE_LINE)
        .order_by("position", "id")
    )
    if not credit_lines:
        return 0
    credited_on = credit_note.issued_at.date()
    exponent = currency_exponent(credit_note.currency)
    whole_invoice = _months_of(invoice_id=invoice.pk, sources=[RevenueSource.INVOICE_LINE])
    planned = []
    for credit_line in credit_lines:
        weights = (
            _months_of(line_id=credit_line.invoice_line_id)
            if credit_line.invoice_line_id is not None
            else whole_invoice
        )
        schedule = RevenueSchedule(
            source=RevenueSource.CREDIT_NOTE_LINE,
            invoice_id=invoice.pk,
            invoice_line_id=credit_line.invoice_line_id,
            credit_note_id=credit_note.pk,
            credit_note_line=credit_line,
            customer_id=credit_note.customer_id,
            currency=credit_note.currency,
            method=RecognitionMethod.REVERSAL,
            amount=-credit_line.amount,
            billed_on=credited_on,
            billed_month=month_of(credited_on),
        )
        months = _reversal(-credit_line.amount, weights, credited_on, exponent)
        planned.append((_schedule_row(schedule), months))
    _save(planned)
    return len(planned)


def revenue_schedule_for_void(*, invoice: Invoice) -> int:
    """An issued invoice voided: reverse what of it is still in revenue (its lines less what
    credit notes already took out), from the void's month on."""
    if invoice.issued_at is None or invoice.voided_at is None or invoice.kind in NOT_REVENUE_KINDS:
        return 0
    if RevenueSchedule.objects.filter(invoice=invoice, source=RevenueSource.INVOICE_VOID).exists():
        return 0
    revenue_schedules_for_invoice(invoice=invoice)
    _save_undo(
        RevenueSchedule(
            source=RevenueSource.INVOICE_VOID,
            invoice=invoice,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
        ),
        weights=_months_of(invoice_id=invoice.pk),
        on=invoice.voided_at.date(),
    )
    return 1


def revenue_schedule_for_credit_note_void(*, credit_note: CreditNote) -> int:
    """A voided credit note puts back the revenue it reversed, from the void's month on."""
    if credit_note.voided_at is None:
        return 0
    if RevenueSchedule.objects.filter(
        credit_note=credit_note, source=RevenueSource.CREDIT_NOTE_VOID
    ).exists():
        return 0
    _save_undo(
        RevenueSchedule(
            source=RevenueSource.CREDIT_NOTE_VOID,
            invoice_id=credit_note.invoice_id,
            credit_note=credit_note,
            customer_id=credit_note.customer_id,
            currency=credit_note.currency,
        ),
        weights=_months_of(credit_note_id=credit_note.pk),
        on=credit_note.voided_at.date(),
    )
    return 1


def _save_undo(schedule: RevenueSchedule, *, weights, on: date) -> None:
    """Save `schedule` as the undoing, from `on`'s month, of all that `weights` moved."""
    undone = -sum((weight for _, weight in weights), ZERO)
    schedule.method = RecognitionMethod.REVERSAL
    schedule.amount = undone
    schedule.billed_on, schedule.billed_month = on, month_of(on)
    exponent = currency_exponent(schedule.currency)
    _save([(_schedule_row(schedule), _reversal(undone, weights, on, exponent))])


def revenue_sync() -> SyncReport:
    """Catch up every schedule not written yet (idempotent): lines of issued invoices (those
    finalized before finance existed, or missed), credit notes, voids. Each invoice in its own
    transaction under its row lock. The `revenue_backfill` command and the `revenue-sync`
    schedule run it."""
    lines = credit_lines = voids = 0
    missing_lines = InvoiceLine.objects.filter(invoice=OuterRef("pk")).exclude(
        revenue_schedules__source=RevenueSource.INVOICE_LINE
    )
    for invoice_id in _ids(
        Invoice.objects.filter(issued_at__isnull=False)
        .exclude(kind__in=NOT_REVENUE_KINDS)
        .filter(Exists(missing_lines))
    ):
        with transaction.atomic():
            lines += revenue_schedules_for_invoice(invoice=_locked(invoice_id))
    missing_credit = CreditNoteLine.objects.filter(credit_note=OuterRef("pk")).exclude(
        revenue_schedules__source=RevenueSource.CREDIT_NOTE_LINE
    )
    for credit_note_id in _ids(CreditNote.objects.filter(Exists(missing_credit))):
        with transaction.atomic():
            credit_note = CreditNote.objects.select_related("invoice").get(pk=credit_note_id)
            _locked(credit_note.invoice_id)
            credit_lines += revenue_schedules_for_credit_note(credit_note=credit_note)
    voided = Invoice.objects.filter(
        status=InvoiceStatus.VOID, issued_at__isnull=False, voided_at__isnull=False
    ).exclude(revenue_schedules__source=RevenueSource.INVOICE_VOID)
    for invoice_id in _ids(voided.exclude(kind__in=NOT_REVENUE_KINDS)):
        with transaction.atomic():
            voids += revenue_schedule_for_void(invoice=_locked(invoice_id))
    voided_notes = CreditNote.objects.filter(
        status=CreditNoteStatus.VOID, voided_at__isnull=False
    ).exclude(revenue_schedules__source=RevenueSource.CREDIT_NOTE_VOID)
    for credit_note_id in _ids(voided_notes):
        with transaction.atomic():
            credit_note = CreditNote.objects.get(pk=credit_note_id)
            _locked(credit_note.invoice_id)
            voids += revenue_schedule_for_credit_note_void(credit_note=credit_note)
    return SyncReport(lines, credit_lines, voids)


# --- helpers ---------------------------------------------------------------------------------


def _reversal(amount: Decimal, weights, on: date, exponent: int) -> list[tuple[date, Decimal]]:
    """`amount` spread like `weights`, months before `on`'s month folded into it."""
    if not amount:
        return []
    if not weights:
        return [(month_of(on), amount)]
    return allocate(amount, collapse_before(weights, month_of(on)), exponent=exponent)


def _months_of(**filters) -> list[tuple[date, Decimal]]:
    """[(month, Σ amount)] of the entries of the schedules matching filters (line_id,
    invoice_id with sources, credit_note_id), in month order."""
    entries = RevenueEntry.objects.all()
    if "line_id" in filters:
        entries = entries.filter(
            schedule__invoice_line_id=filters["line_id"],
            schedule__source=RevenueSource.INVOICE_LINE,
        )
    if "invoice_id" in filters:
        entries = entries.filter(schedule__invoice_id=filters["invoice_id"])
    if "sources" in filters:
        entries = entries.filter(schedule__source__in=filters["sources"])
    if "credit_note_id" in filters:
        entries = entries.filter(
            schedule__credit_note_id=filters["credit_note_id"],
            schedule__source=RevenueSource.CREDIT_NOTE_LINE,
        )
    totals = entries.values("month", "currency").annotate(total=Sum("amount")).order_by("month")
    return [
        (row["month"], exact_sum(row["total"], row["currency"])) for row in totals if row["total"]
    ]


def exact_sum(total: Decimal, currency: str) -> Decimal:
    """A database Sum of entries back to exact money: every entry is at the currency's minor
    unit, so their sum is too (SQLite sums decimals as floats: 1100.0000000000001)."""
    return round_money(total, exponent=currency_exponent(currency))


# A schedule's fields as the close writes them: a tuple per schedule, no model instance
# (billing.bulk.values_insert; docs/performance.md, "Cycle close").
SCHEDULE_FIELDS = (
    "source",
    "invoice_id",
    "invoice_line_id",
    "credit_note_id",
    "credit_note_line_id",
    "customer_id",
    "currency",
    "method",
    "amount",
    "billed_on",
    "billed_month",
    "service_start",
    "service_end",
)
CURRENCY, BILLED_MONTH = SCHEDULE_FIELDS.index("currency"), SCHEDULE_FIELDS.index("billed_month")
ENTRY_FIELDS = ("schedule_id", "month", "amount", "currency", "billed_month")


def _schedule_row(schedule: RevenueSchedule) -> tuple:
    return tuple(getattr(schedule, name) for name in SCHEDULE_FIELDS)


def _save(planned: list[tuple[tuple, list[tuple[date, Decimal]]]]) -> None:
    """Write schedules (rows of SCHEDULE_FIELDS) with their months."""
    if not planned:
        return
    ids = values_insert(RevenueSchedule, SCHEDULE_FIELDS, (row for row, _ in planned))
    values_insert(
        RevenueEntry,
        ENTRY_FIELDS,
        (
            (schedule_id, month, amount, row[CURRENCY], row[BILLED_MONTH])
            for schedule_id, (row, months) in zip(ids, planned, strict=True)
            for month, amount in months
        ),
    )


def _locked(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update(of=("self",)).get(pk=invoice_id)


def _ids(queryset) -> list[int]:
    return list(queryset.order_by("pk").values_list("pk", flat=True))
