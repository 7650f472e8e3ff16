"""The invoice as a document people read: its display form (shared by the PDF, the hosted page
and the email) and its PDF, rendered by WeasyPrint from templates/invoices/invoice_pdf.html."""

import atexit
import logging
import mimetypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.template.loader import render_to_string

from catalog.currencies import DISPLAY_LOCALE, money_display, price_text
from invoices.models import CreditNote, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus

INVOICE_CSS = Path("invoices") / "invoice.css"
PDF_TEMPLATE = "invoices/invoice_pdf.html"

# A stamp across the document once its status says more than "finalized".
STAMPS = {
    InvoiceStatus.PAID: "PAID",
    InvoiceStatus.VOID: "VOID",
    InvoiceStatus.UNCOLLECTIBLE: "UNCOLLECTIBLE",
}


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """One band or step of a usage line's rating, as printed under the line."""

    label: str
    units: str
    unit_price: str
    amount: str


@dataclass(frozen=True, slots=True)
class DocumentLine:
    description: str
    period: str | None
    quantity: str
    unit_price: str
    amount: str
    free_units: str | None
    breakdown: tuple[BreakdownRow, ...]


@dataclass(frozen=True, slots=True)
class AmountRow:
    """A labelled amount under the totals: one tax rate, one coupon."""

    label: str
    amount: str


@dataclass(frozen=True, slots=True)
class CreditNoteRow:
    """A credit note issued on the invoice, as listed under its totals."""

    number: str
    date: str
    reason: str
    outcome: str
    amount: str


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything an invoice shows, already formatted: templates only lay it out."""

    title: str
    heading: str
    number: str | None
    status: str
    status_label: str
    kind_label: str
    stamp: str | None
    is_draft: bool
    currency: str
    company: dict
    customer_name: str
    customer_email: str
    customer_address_lines: tuple[str, ...]
    customer_tax_id: str
    issue_date: str | None
    due_date: str | None
    period: str | None
    lines: tuple[DocumentLine, ...]
    subtotal: str
    discount: str | None
    tax: str
    credits_applied: str | None
    total: str
    amount_due: str
    # Per tax rate and per coupon (docs/architecture.md, "Money"); empty: one "Tax" row.
    taxes: tuple[AmountRow, ...] = ()
    coupons: tuple[AmountRow, ...] = ()
    tax_exempt_reason: str = ""
    credit_notes: tuple[CreditNoteRow, ...] = ()
    amount_credited: str | None = None
    # A credit note is printed with the same layout (invoices.credit_note_pdf).
    number_label: str = "Invoice number"
    amount_label: str = "Amount due"
    reference: str = ""


def tax_rows(taxes: list[dict], currency: str) -> tuple[AmountRow, ...]:
    """[{"name", "rate", "amount", ...}] as "VAT (20 %)" rows."""
    rows = []
    for tax in taxes:
        where = f", {tax['jurisdiction']}" if tax.get("jurisdiction") else ""
        label = f"{tax['name']} ({tax['rate']} %{where})"
        rows.append(AmountRow(label, money_display(Decimal(tax["amount"]), currency)))
    return tuple(rows)


def _credit_note_rows(invoice: Invoice) -> tuple[CreditNoteRow, ...]:
    if not getattr(invoice, "pk", None):  # a preview
        return ()
    return tuple(
        CreditNoteRow(
            number=note.number,
            date=date_display(note.issued_at.astimezone(UTC).date()),
            reason=note.reason,
            outcome=note.get_outcome_display(),
            amount=money_display(note.total, invoice.currency),
        )
        for note in invoice.credit_notes.filter(status="issued").order_by("issued_at", "id")
    )


def quantity_display(quantity: Decimal) -> str:
    """A quantity as people write it: "2,500", "1.5", "0"."""
    return format_decimal(quantity.normalize(), locale=DISPLAY_LOCALE, decimal_quantization=False)


def price_display(amount: Decimal, currency: str) -> str:
    """A unit price with its symbol, never rounded: "$0.80", "$0.0012", "¥3"."""
    return format_currency(
        Decimal(price_text(amount, currency)),
        currency,
        locale=DISPLAY_LOCALE,
        decimal_quantization=False,
    )


def date_display(value) -> str:
    return format_date(value, format="medium", locale=DISPLAY_LOCALE)


def period_display(start: datetime | None, end: datetime | None) -> str | None:
    """A half-open UTC period [start, end) as read on an invoice.

    Whole days print as an inclusive range of dates ("Jan 1 – Jan 31, 2026"); shorter periods
    (minute and hour plans) print their times in UTC.
    """
    if start is None or end is None:
        return None
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start == end:
        # An opening invoice (fees due when a subscription starts) covers no usage window.
        return f"Opening, {date_display(start.date())}"
    midnight = datetime.min.time()
    if start.time() == midnight and end.time() == midnight and end > start:
        first, last = start.date(), (end - timedelta(days=1)).date()
        if first == last:
            return date_display(first)
        if first.year == last.year:
            return f"{format_date(first, 'MMM d', locale=DISPLAY_LOCALE)} – {date_display(last)}"
        return f"{date_display(first)} – {date_display(last)}"
    if start.date() == end.date():
        return f"{date_display(start.date())}, {start:%H:%M} – {end:%H:%M} UTC"
    return (
        f"{date_display(start.date())} {start:%H:%M} – {date_display(end.date())} {end:%H:%M} UTC"
    )


def _breakdown_rows(breakdown: dict, currency: str) -> tuple[BreakdownRow, ...]:
    rows = []
    for row in breakdown.get("breakdown") or []:
        unit_amount = Decimal(row.get("unit_amount") or "0")
        flat_amount = Decimal(row.get("flat_amount") or "0")
        unit_price = price_display(unit_amount, currency) if unit_amount else ""
        if flat_amount:
            flat = f"{price_display(flat_amount, currency)} flat"
            unit_price = f"{unit_price} + {flat}" if unit_price else flat
        rows.append(
            BreakdownRow(
                label=str(row.get("label") or ""),
                units=quantity_display(Decimal(row.get("units") or "0")),
                unit_price=unit_price,
                amount=money_display(Decimal(row.get("amount") or "0"), currency),
            )
        )
    return tuple(rows)


def _document_line(line: InvoiceLine, *, invoice: Invoice) -> DocumentLine:
    currency = invoice.currency
    breakdown = line.breakdown if isinstance(line.breakdown, dict) else {}
    free_units = Decimal(breakdown.get("free_units") or "0")
    own_window = (line.usage_start, line.usage_end) != (invoice.period_start, invoice.period_end)
    return DocumentLine(
        description=line.description,
        period=period_display(line.usage_start, line.usage_end) if own_window else None,
        quantity=quantity_display(line.quantity),
        unit_price="" if line.unit_amount is None else price_display(line.unit_amount, currency),
        amount=money_display(line.amount, currency),
        free_units=quantity_display(free_units) if free_units else None,
        breakdown=_breakdown_rows(breakdown, currency),
    )


def _parties(customer) -> dict:
    """The seller and the billed customer, as every document prints them."""
    return {
        "company": dict(settings.TALLY_COMPANY),
        "customer_name": customer.name,
        "customer_email": customer.email,
        "customer_address_lines": tuple(customer.billing_address_lines),
        "customer_tax_id": customer.tax_id,
    }


def invoice_document(
    *, invoice: Invoice, lines: Sequence[InvoiceLine] | None = None
) -> InvoiceDocument:
    """The invoice formatted for people. `lines` defaults to the stored lines; pass them for an
    unsaved invoice (the upcoming-invoice preview)."""
    if lines is None:
        lines = list(invoice.lines.all()) if invoice.pk else []
    currency = invoice.currency
    customer = invoice.customer
    is_draft = invoice.status == InvoiceStatus.DRAFT
    issued = invoice.issued_at.astimezone(UTC).date() if invoice.issued_at else None
    name = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "Invoice"
    return InvoiceDocument(
        title=f"{name} {invoice.number}" if invoice.number else f"Draft {name.lower()}",
        heading=f"Draft {name.lower()}" if is_draft else name,
        number=invoice.number,
        status=invoice.status,
        status_label=invoice.get_status_display(),
        kind_label=invoice.get_kind_display() if invoice.kind else "",
        stamp=STAMPS.get(invoice.status),
        is_draft=is_draft,
        currency=currency,
        **_parties(customer),
        issue_date=date_display(issued) if issued else None,
        due_date=date_display(invoice.due_date) if invoice.due_date else None,
        period=period_display(invoice.period_start, invoice.period_end),
        lines=tuple(_document_line(line, invoice=invoice) for line in lines),
        subtotal=money_display(invoice.subtotal, currency),
        discount=money_display(invoice.discount, currency) if invoice.discount else None,
        tax=money_display(invoice.tax, currency),
        credits_applied=(
            money_display(invoice.credits_applied, currency) if invoice.credits_applied else None
        ),
        total=money_display(invoice.total, currency),
        amount_due=money_display(invoice.amount_due, currency),
        taxes=tax_rows(invoice.taxes or [], currency),
        coupons=tuple(
            AmountRow(
                f"{coupon['name']} ({coupon['code']})",
                money_display(Decimal(coupon["amount"]), currency),
            )
            for coupon in invoice.coupons or []
        ),
        tax_exempt_reason=invoice.tax_exempt_reason,
        credit_notes=_credit_note_rows(invoice),
        amount_credited=(
            money_display(invoice.amount_credited, currency)
            if getattr(invoice, "amount_credited", 0)
            else None
        ),
    )


def credit_note_document(*, credit_note: CreditNote) -> InvoiceDocument:
    """A credit note formatted like an invoice: its lines, taxes and the total credited."""
    invoice, currency = credit_note.invoice, credit_note.currency
    customer = credit_note.customer
    issued = credit_note.issued_at.astimezone(UTC).date()
    lines = tuple(
        DocumentLine(
            description=line.description,
            period=None,
            quantity="",
            unit_price="",
            amount=money_display(line.amount, currency),
            free_units=None,
            breakdown=(),
        )
        for line in credit_note.lines.all()
    )
    return InvoiceDocument(
        title=f"Credit note {credit_note.number}",
        heading="Credit note",
        number=credit_note.number,
        status=credit_note.status,
        status_label=credit_note.get_status_display(),
        kind_label="Credit note",
        stamp="VOID" if credit_note.status == "void" else None,
        is_draft=False,
        currency=currency,
        **_parties(customer),
        issue_date=date_display(issued),
        due_date=None,
        period=period_display(invoice.period_start, invoice.period_end),
        lines=lines,
        subtotal=money_display(credit_note.subtotal, currency),
        discount=None,
        tax=money_display(credit_note.tax, currency),
        credits_applied=None,
        total=money_display(credit_note.total, currency),
        amount_due=money_display(credit_note.total, currency),
        taxes=tax_rows(credit_note.taxes or [], currency),
        number_label="Credit note number",
        amount_label="Amount credited",
        reference=f"{invoice.number} — {credit_note.reason} ({credit_note.get_outcome_display()})",
    )


def credit_note_render_pdf(*, credit_note: CreditNote) -> bytes:
    """The credit note's PDF bytes, with the invoice's layout and stylesheet."""
    return _render_html(
        render_to_string(PDF_TEMPLATE, {"doc": credit_note_document(credit_note=credit_note)})
    )


def static_root() -> Path:
    return (Path(settings.BASE_DIR) / "static").resolve()


def static_file_for_url(url: str, *, root: Path) -> Path:
    """The local file under `root` that `url` names; anything else is refused with ValueError.

    The PDF may only use the font and stylesheet shipped in static/: a remote URL (http, https,
    data, ftp) or a path escaping static/ would let a template or a customer's text make the
    renderer fetch from the network or read the server's files.
    """
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"Invoice PDFs only load files shipped in static/, not {url!r}.")
    path = Path(url2pathname(unquote(parts.path))).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"Invoice PDFs only load files shipped in static/, not {url!r}.")
    return path


@cache
def _renderer():
    """WeasyPrint's font configuration, the parsed stylesheet and the fetcher, built once per
    process: parsing the CSS and loading the @font-face fonts is most of a cold render."""
    # WeasyPrint's step-by-step progress and fontTools' subsetting report at INFO, a screenful
    # per invoice; their warnings still come through.
    for chatty in ("weasyprint.progress", "fontTools"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyURLFetcher(URLFetcher):
        def __init__(self, *, root: Path):
            super().__init__(allowed_protocols=("file",))
            self.root = root

        def fetch(self, url, headers=None):
            path = static_file_for_url(url, root=self.root)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": content_type}
            )

    root = static_root()
    fetcher = StaticOnlyURLFetcher(root=root)
    font_config = FontConfiguration()
    stylesheet = CSS(filename=str(root / INVOICE_CSS), url_fetcher=fetcher, font_config=font_config)
    # Drop the font configuration while its C libraries are still loaded, not at interpreter
    # teardown (where its __del__ fails noisily).
    atexit.register(_renderer.cache_clear)
    return HTML, stylesheet, font_config, fetcher


def invoice_url_fetcher():
    """The WeasyPrint URL fetcher invoices are rendered with (local static files only)."""
    return _renderer()[3]


# Pango's font map behind a FontConfiguration is not meant to be shared between threads.
_render_lock = threading.Lock()


def invoice_render_pdf(*, invoice: Invoice, lines: Sequence[InvoiceLine] | None = None) -> bytes:
    """The invoice's PDF bytes. Drafts (previews) carry a DRAFT watermark; paid and void ones a
    stamp. Writes nothing: storing the file is `invoices.documents.invoice_store_pdf`."""
    html = render_to_string(PDF_TEMPLATE, {"doc": invoice_document(invoice=invoice, lines=lines)})
    return _render_html(html)


def _render_html(html: str) -> bytes:
    html_class, stylesheet, font_config, fetcher = _renderer()
    with _render_lock:
        document = html_class(string=html, base_url=f"{static_root()}/", url_fetcher=fetcher)
        return document.write_pdf(stylesheets=[stylesheet], font_config=font_config)
