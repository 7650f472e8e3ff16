"""CSV exports for a date range: invoices, invoice lines, credit notes, payments (docs/api.md,
"Finance"). Rows are read in chunks and written as they are read (stdlib csv into a
StreamingHttpResponse), so a large range never sits in memory whole. Money is written with the
currency's minor unit beside a currency column; amounts in different currencies are never
summed here."""

import csv
import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, time, timedelta

from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from catalog.currencies import format_money
from finance.ranges import DateRange
from invoices.models import CreditNote, Invoice, InvoiceLine
from payments.models import Payment, Refund

CHUNK = 2000


def _window(dates: DateRange) -> tuple[datetime, datetime]:
    """[first day 00:00 UTC, the day after the last 00:00 UTC)."""
    start = datetime.combine(dates.first, time.min, tzinfo=UTC)
    return start, datetime.combine(dates.last + timedelta(days=1), time.min, tzinfo=UTC)


def _when(moment) -> str:
    return moment.isoformat() if moment is not None else ""


INVOICE_MONEY = (
    "subtotal", "discount", "tax", "total", "credits_applied", "amount_credited", "amount_due",
)  # fmt: skip


def invoice_rows(dates: DateRange) -> Iterator[list]:
    """Invoices issued in the range (void ones too: their number was given), oldest first.
    Read as plain tuples (no model instances): the export's cost is the rows themselves."""
    start, end = _window(dates)
    yield [
        "number", "id", "customer", "customer_name", "kind", "status", "currency",
        "issued_at", "due_date", "period_start", "period_end", *INVOICE_MONEY, "paid_at",
        "voided_at",
    ]  # fmt: skip
    invoices = (
        Invoice.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .order_by("issued_at", "pk")
        .values_list(
            "number",
            "pk",
            "customer__external_id",
            "customer__name",
            "kind",
            "status",
            "currency",
            "issued_at",
            "due_date",
            "period_start",
            "period_end",
            *INVOICE_MONEY,
            "paid_at",
            "voided_at",
        )  # fmt: skip
    )
    for row in invoices.iterator(chunk_size=CHUNK):
        currency = row[6]
        yield [
            *row[:7], _when(row[7]), row[8] or "", _when(row[9]), _when(row[10]),
            *(format_money(amount, currency) for amount in row[11:18]),
            _when(row[18]), _when(row[19]),
        ]  # fmt: skip


def line_rows(dates: DateRange) -> Iterator[list]:
    """The lines of the invoices issued in the range, invoice by invoice (as plain tuples)."""
    start, end = _window(dates)
    yield [
        "invoice_number", "invoice_id", "line_id", "position", "kind", "description", "meter",
        "quantity", "unit_amount", "amount", "discount", "currency", "usage_start", "usage_end",
    ]  # fmt: skip
    lines = (
        InvoiceLine.objects.filter(invoice__issued_at__gte=start, invoice__issued_at__lt=end)
        .order_by("invoice__issued_at", "invoice_id", "position", "pk")
        .values_list(
            "invoice__number",
            "invoice_id",
            "pk",
            "position",
            "kind",
            "description",
            "meter__code",
            "quantity",
            "unit_amount",
            "amount",
            "discount",
            "invoice__currency",
            "usage_start",
            "usage_end",
        )  # fmt: skip
    )
    for row in lines.iterator(chunk_size=CHUNK):
        currency = row[11]
        yield [
            *row[:6], row[6] or "", row[7], "" if row[8] is None else row[8],
            format_money(row[9], currency), format_money(row[10], currency), currency,
            _when(row[12]), _when(row[13]),
        ]  # fmt: skip


def credit_note_rows(dates: DateRange) -> Iterator[list]:
    """Credit notes issued in the range (void ones too), oldest first."""
    start, end = _window(dates)
    yield [
        "number", "id", "invoice_number", "customer", "currency", "reason", "outcome", "status",
        "subtotal", "tax", "total", "applied_to_invoice", "outcome_amount", "issued_at",
        "voided_at",
    ]  # fmt: skip
    notes = (
        CreditNote.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("invoice", "customer")
        .order_by("issued_at", "pk")
    )
    for note in notes.iterator(chunk_size=CHUNK):
        currency = note.currency
        yield [
            note.number, note.pk, note.invoice.number, note.customer.external_id, currency,
            note.reason, note.outcome, note.status,
            *(
                format_money(getattr(note, name), currency)
                for name in ("subtotal", "tax", "total", "applied_to_invoice", "outcome_amount")
            ),
            _when(note.issued_at), _when(note.voided_at),
        ]  # fmt: skip


def payment_rows(dates: DateRange) -> Iterator[list]:
    """Payments settled in the range (by settled_at, else created_at; every status: a failed
    attempt is a row with its failure) and refunds made in it, as negative amounts, merged in
    date order."""
    start, end = _window(dates)
    yield [
        "type", "id", "payment_id", "invoice_number", "customer", "gateway", "method",
        "status", "currency", "amount", "date", "reference", "stripe_id", "failure_code",
        "reason",
    ]  # fmt: skip
    payments = (
        Payment.objects.alias(settled=Coalesce("settled_at", "created_at"))
        .filter(settled__gte=start, settled__lt=end)
        .select_related("invoice__customer")
        .order_by("settled", "pk")
    )
    refunds = (
        Refund.objects.filter(refunded_at__gte=start, refunded_at__lt=end)
        .select_related("payment__invoice__customer")
        .order_by("refunded_at", "pk")
    )
    payment_items = (
        ((payment.settled_at or payment.created_at), 0, payment.pk, _payment_row(payment))
        for payment in payments.iterator(chunk_size=CHUNK)
    )
    refund_items = (
        (refund.refunded_at, 1, refund.pk, _refund_row(refund))
        for refund in refunds.iterator(chunk_size=CHUNK)
    )
    for *_, row in heapq.merge(payment_items, refund_items, key=lambda item: item[:3]):
        yield row


def _payment_row(payment: Payment) -> list:
    invoice = payment.invoice
    return [
        "payment", payment.pk, payment.pk, invoice.number, invoice.customer.external_id,
        payment.gateway, payment.method, payment.status, payment.currency,
        format_money(payment.amount, payment.currency),
        _when(payment.settled_at or payment.created_at), payment.reference,
        payment.stripe_payment_intent_id or "", payment.failure_code, "",
    ]  # fmt: skip


def _refund_row(refund: Refund) -> list:
    payment = refund.payment
    invoice = payment.invoice
    return [
        "refund", refund.pk, payment.pk, invoice.number, invoice.customer.external_id,
        payment.gateway, payment.method, "refunded", payment.currency,
        format_money(-refund.amount, payment.currency), _when(refund.refunded_at),
        payment.reference, refund.stripe_refund_id or "", "", refund.reason,
    ]  # fmt: skip


# kind (the URL's name) → rows of the range
EXPORTS: dict[str, Callable[[DateRange], Iterator[list]]] = {
    "invoices": invoice_rows,
    "lines": line_rows,
    "credit-notes": credit_note_rows,
    "payments": payment_rows,
}


class _Echo:
    """What csv.writer writes to: each row comes back as text, to be streamed at once."""

    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def csv_response(rows: Iterable[list], *, filename: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        csv_stream(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_response(*, kind: str, dates: DateRange) -> StreamingHttpResponse:
    """The CSV of `kind` for the range, streamed; the file is named after both."""
    return csv_response(EXPORTS[kind](dates), filename=f"{kind}-{dates.first}-to-{dates.last}.csv")
