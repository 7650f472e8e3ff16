"""The invoice PDF: what its text says, how numbers and dates read, and what it may load."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from pypdf import PdfReader

from customers.models import Customer
from invoices.models import Invoice, InvoiceLine
from invoices.pdf import (
    invoice_render_pdf,
    invoice_url_fetcher,
    period_display,
    price_display,
    quantity_display,
    static_file_for_url,
    static_root,
)
from tests.factories import FeeLineFactory, FinalizedInvoiceFactory, TieredUsageLineFactory


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def tiered_invoice(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000123")
    TieredUsageLineFactory(invoice=invoice)
    return invoice


def test_pdf_holds_number_customer_lines_breakdown_and_total(tiered_invoice):
    pdf = invoice_render_pdf(invoice=tiered_invoice)

    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "INV-2026-000123" in text
    assert "Acme Analytics Ltd" in text
    assert "GB123456789" in text  # the customer's tax id
    assert "BS1 5TR Bristol" in text
    assert settings.TALLY_COMPANY["name"] in text
    assert "API calls" in text
    assert "2,500" in text
    assert "$1,600.00" in text
    # The graduated breakdown, band by band.
    assert "1 – 1000 @ 0.80" in text
    assert "$800.00" in text
    assert "$600.00" in text
    assert "$200.00" in text
    assert "Jan 1 – Jan 31, 2026" in text
    assert "Feb 15, 2026" in text
    assert "DRAFT" not in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_pdf_embeds_the_shipped_font_not_a_system_one(tiered_invoice):
    reader = PdfReader(io.BytesIO(invoice_render_pdf(invoice=tiered_invoice)))
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    assert all("Tally-Invoice-Sans" in name or "TallyInvoiceSans" in name for name in fonts), fonts


def test_pdf_shows_fees_discount_tax_credits_and_amount_due(db):
    invoice = FinalizedInvoiceFactory(
        number="INV-2026-000200",
        subtotal=Decimal("1629.00"),
        discount=Decimal("29.00"),
        tax=Decimal("320.00"),
        total=Decimal("1920.00"),
        credits_applied=Decimal("20.00"),
        amount_due=Decimal("1900.00"),
    )
    FeeLineFactory(invoice=invoice)
    TieredUsageLineFactory(invoice=invoice)

    text = pdf_text(invoice_render_pdf(invoice=invoice))

    assert "Monthly fee" in text
    assert "$29.00" in text
    assert "Subtotal" in text and "$1,629.00" in text
    assert "Discount" in text
    assert "Tax" in text and "$320.00" in text
    assert "Total" in text and "$1,920.00" in text
    assert "Credits applied" in text and "$20.00" in text
    assert "$1,900.00" in text


@pytest.mark.parametrize(
    ("status", "stamp"),
    [("paid", "PAID"), ("void", "VOID"), ("uncollectible", "UNCOLLECTIBLE")],
)
def test_paid_void_and_uncollectible_invoices_carry_a_stamp(db, status, stamp):
    invoice = FinalizedInvoiceFactory(status=status)
    assert stamp in pdf_text(invoice_render_pdf(invoice=invoice))


def test_finalized_invoice_has_no_stamp(tiered_invoice):
    text = pdf_text(invoice_render_pdf(invoice=tiered_invoice))
    assert "PAID" not in text and "VOID" not in text


def test_unsaved_draft_preview_renders_with_watermark_and_no_number():
    """The upcoming-invoice preview is never saved: it renders from objects in memory."""
    customer = Customer(external_id="preview", name="Preview Co", email="ap@preview.example")
    invoice = Invoice(
        customer=customer,
        kind="subscription",
        status="draft",
        currency="JPY",
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=datetime(2026, 4, 1, tzinfo=UTC),
        subtotal=Decimal("1600"),
        total=Decimal("1600"),
        amount_due=Decimal("1600"),
    )
    line = InvoiceLine(
        kind="usage",
        description="Tokens",
        quantity=Decimal("1600"),
        unit_amount=Decimal("1"),
        amount=Decimal("1600"),
    )

    text = pdf_text(invoice_render_pdf(invoice=invoice, lines=[line]))

    assert "DRAFT" in text
    assert "Draft invoice" in text
    assert "Not numbered yet" in text
    assert "¥1,600" in text
    assert "Mar 1 – Mar 31, 2026" in text


def test_customer_text_is_escaped_not_interpreted(db):
    invoice = FinalizedInvoiceFactory(customer__name='<img src="http://evil.example/x.png">Eve')
    text = pdf_text(invoice_render_pdf(invoice=invoice))
    assert '<img src="http://evil.example/x.png">Eve' in text


# --- The fetcher: the renderer only ever reads files shipped in static/ -----------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/logo.png",
        "https://example.com/font.ttf",
        "ftp://example.com/x.css",
        "data:text/css,body{color:red}",
        "file:///etc/passwd",
        "file://remote-host/static/invoices/invoice.css",
    ],
)
def test_fetcher_refuses_anything_but_local_static_files(url):
    with pytest.raises(ValueError, match="only load files shipped in static/"):
        static_file_for_url(url, root=static_root())
    with pytest.raises(ValueError):
        invoice_url_fetcher().fetch(url)


def test_fetcher_refuses_a_path_that_climbs_out_of_static():
    escaping = (static_root() / "invoices" / ".." / ".." / "manage.py").as_posix()
    with pytest.raises(ValueError):
        static_file_for_url(f"file://{escaping}", root=static_root())


def test_fetcher_serves_the_shipped_font():
    font = static_root() / "invoices" / "fonts" / "DejaVuSans.ttf"
    response = invoice_url_fetcher().fetch(font.as_uri())
    assert response.read(4) == font.read_bytes()[:4]
    response.close()


# --- How numbers, prices and periods read -----------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "shown"),
    [
        (Decimal("2500.000000"), "2,500"),
        (Decimal("0"), "0"),
        (Decimal("1.500000"), "1.5"),
        (Decimal("1234567.123456"), "1,234,567.123456"),
    ],
)
def test_quantity_display(quantity, shown):
    assert quantity_display(quantity) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("0.800000000000"), "USD", "$0.80"),
        (Decimal("0.0012"), "USD", "$0.0012"),
        (Decimal("1.35"), "USD", "$1.35"),
        (Decimal("3"), "JPY", "¥3"),
        (Decimal("1.2345"), "BHD", "BHD1.2345"),
    ],
)
def test_price_display_never_rounds_a_unit_price(amount, currency, shown):
    assert price_display(amount, currency) == shown


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ((2026, 1, 1), (2026, 2, 1), "Jan 1 – Jan 31, 2026"),
        ((2025, 12, 15), (2026, 1, 15), "Dec 15, 2025 – Jan 14, 2026"),
        ((2026, 1, 5), (2026, 1, 6), "Jan 5, 2026"),
        ((2026, 1, 5, 14), (2026, 1, 5, 15), "Jan 5, 2026, 14:00 – 15:00 UTC"),
        ((2026, 1, 5, 23, 30), (2026, 1, 6, 0, 30), "Jan 5, 2026 23:30 – Jan 6, 2026 00:30 UTC"),
        ((2026, 11, 1), (2026, 11, 1), "Opening, Nov 1, 2026"),  # fees due at the start
    ],
)
def test_period_display(start, end, shown):
    assert period_display(datetime(*start, tzinfo=UTC), datetime(*end, tzinfo=UTC)) == shown


def test_period_display_without_a_period():
    assert period_display(None, None) is None


def test_due_date_reads_as_a_date(db):
    invoice = FinalizedInvoiceFactory(due_date=date(2026, 3, 2))
    assert "Mar 2, 2026" in pdf_text(invoice_render_pdf(invoice=invoice))


def test_a_credit_note_is_titled_as_one(db):
    note = FinalizedInvoiceFactory(kind="credit_note", number="INV-2026-000300")
    text = pdf_text(invoice_render_pdf(invoice=note))
    assert "Credit note" in text
    assert "INV-2026-000300" in text
