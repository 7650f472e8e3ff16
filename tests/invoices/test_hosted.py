"""The customer's hosted invoice page and PDF behind signed, expiring links."""

import io
import time
from unittest import mock

import pytest
from django.core import signing
from django.test import override_settings
from pypdf import PdfReader

from invoices.documents import (
    PAGE_LINK,
    PDF_LINK,
    invoice_hosted_url,
    invoice_link_path,
    invoice_pdf_url,
)
from invoices.models import Invoice
from tests.factories import FinalizedInvoiceFactory, TieredUsageLineFactory

BASE = "http://testserver"


def path_of(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix(BASE)


@pytest.fixture
def invoice(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000123")
    TieredUsageLineFactory(invoice=invoice)
    return invoice


def signed_days_ago(invoice, *, purpose: str, days: int) -> str:
    """The link as it was signed `days` ago (TimestampSigner stamps with time.time())."""
    with mock.patch("django.core.signing.time.time", return_value=time.time() - days * 86400):
        return invoice_link_path(invoice=invoice, purpose=purpose)


def test_links_are_absolute_signed_and_distinct(invoice):
    hosted, pdf = invoice_hosted_url(invoice=invoice), invoice_pdf_url(invoice=invoice)
    assert hosted.startswith(f"{BASE}/i/") and hosted.endswith("/")
    assert pdf.startswith(f"{BASE}/i/") and pdf.endswith("/pdf")
    assert str(invoice.pk) in hosted  # signed, not encrypted: the id is readable
    assert path_of(pdf).removesuffix("pdf") != path_of(hosted)


@pytest.mark.parametrize("status", ["draft"])
def test_a_draft_has_no_public_link(db, status):
    draft = FinalizedInvoiceFactory(status=status, number=None)
    assert invoice_hosted_url(invoice=draft) is None
    assert invoice_pdf_url(invoice=draft) is None


def test_hosted_page_shows_the_invoice_and_links_to_its_pdf(client, invoice):
    response = client.get(path_of(invoice_hosted_url(invoice=invoice)))

    assert response.status_code == 200
    body = response.content.decode()
    assert "INV-2026-000123" in body
    assert "$1,600.00" in body
    assert "Acme Analytics Ltd" in body
    assert "1 – 1000 @ 0.80" in body
    assert "Download PDF" in body
    pdf_path = response.context["pdf_path"]
    assert f'href="{pdf_path}?download=1"' in body
    assert client.get(pdf_path)["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "/admin/" not in body


def test_hosted_page_of_a_void_invoice_says_so(client, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(status="void")
    invoice.refresh_from_db()
    body = client.get(path_of(invoice_hosted_url(invoice=invoice))).content.decode()
    assert "voided" in body
    assert "VOID" in body


def test_pdf_link_serves_the_pdf_inline_and_stores_it(client, invoice):
    assert not invoice.pdf_file

    response = client.get(path_of(invoice_pdf_url(invoice=invoice)))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="INV-2026-000123.pdf"'
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "INV-2026-000123" in text and "$1,600.00" in text
    invoice.refresh_from_db()
    # Stored as <number>.pdf (the storage adds a suffix if that name is taken).
    assert invoice.pdf_file.name.startswith("invoices/pdf/")
    assert "/INV-2026-000123" in invoice.pdf_file.name and invoice.pdf_file.name.endswith(".pdf")
    assert invoice.pdf_file.read() == pdf


def test_pdf_link_serves_the_stored_file_without_rendering_again(client, invoice):
    url = path_of(invoice_pdf_url(invoice=invoice))
    first = b"".join(client.get(url).streaming_content)
    invoice.refresh_from_db()
    rendered_at, name = invoice.pdf_rendered_at, invoice.pdf_file.name

    second = client.get(f"{url}?download=1")

    assert b"".join(second.streaming_content) == first
    assert second["Content-Disposition"] == 'attachment; filename="INV-2026-000123.pdf"'
    invoice.refresh_from_db()
    assert (invoice.pdf_rendered_at, invoice.pdf_file.name) == (rendered_at, name)


def tampered(path: str) -> list[str]:
    """The same link with its signature, timestamp or id altered."""
    token = path.split("/")[2]
    invoice_id, stamp, signature = token.split(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        path.replace(token, f"{invoice_id}:{stamp}:{flipped}"),
        path.replace(token, f"{int(invoice_id) + 1}:{stamp}:{signature}"),
        path.replace(token, f"{invoice_id}:{stamp}"),
        path.replace(token, "not-a-token"),
    ]


@pytest.mark.parametrize("purpose", [PAGE_LINK, PDF_LINK])
def test_a_tampered_link_gets_404_and_never_the_invoice(client, invoice, purpose):
    FinalizedInvoiceFactory(number="INV-2026-000124")  # the id next door exists
    for path in tampered(invoice_link_path(invoice=invoice, purpose=purpose)):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("text/html")
        body = response.content.decode()
        assert "INV-2026-00012" not in body
        assert "$1,600.00" not in body
        assert "not valid" in body


def test_a_page_link_does_not_open_the_pdf_and_vice_versa(client, invoice):
    page_token = invoice_link_path(invoice=invoice, purpose=PAGE_LINK).split("/")[2]
    pdf_token = invoice_link_path(invoice=invoice, purpose=PDF_LINK).split("/")[2]
    assert client.get(f"/i/{page_token}/pdf").status_code == 404
    assert client.get(f"/i/{pdf_token}/").status_code == 404


def test_a_link_signed_with_another_key_gets_404(client, invoice):
    path = invoice_link_path(invoice=invoice, purpose=PAGE_LINK)
    with override_settings(SECRET_KEY="someone-else's-secret-key-0123456789abcdef"):
        forged = invoice_link_path(invoice=invoice, purpose=PAGE_LINK)
    assert forged != path
    assert client.get(forged).status_code == 404


@pytest.mark.parametrize("purpose", [PAGE_LINK, PDF_LINK])
def test_an_expired_link_gets_403_with_a_friendly_page(client, invoice, purpose):
    path = signed_days_ago(invoice, purpose=purpose, days=31)  # max age is 30 days

    response = client.get(path)

    assert response.status_code == 403
    body = response.content.decode()
    assert "This link has expired" in body
    assert "billing@tally.example" in body
    assert "INV-2026-000123" not in body
    assert "$1,600.00" not in body
    invoice.refresh_from_db()
    assert not invoice.pdf_file


def test_a_link_inside_its_lifetime_still_works(client, invoice):
    assert client.get(signed_days_ago(invoice, purpose=PAGE_LINK, days=29)).status_code == 200


@override_settings(INVOICE_LINK_MAX_AGE_DAYS=7)
def test_link_lifetime_follows_the_setting(client, invoice):
    assert client.get(signed_days_ago(invoice, purpose=PAGE_LINK, days=8)).status_code == 403


def test_a_genuine_token_for_a_draft_gets_404(client, db):
    """Drafts never get links; even a token we signed for one opens nothing."""
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    token = signing.TimestampSigner(salt=PAGE_LINK).sign(str(draft.pk))
    assert client.get(f"/i/{token}/").status_code == 404
    pdf_token = signing.TimestampSigner(salt=PDF_LINK).sign(str(draft.pk))
    assert client.get(f"/i/{pdf_token}/pdf").status_code == 404
    draft.refresh_from_db()
    assert not draft.pdf_file


def test_a_token_for_a_deleted_invoice_gets_404(client, invoice):
    path = invoice_link_path(invoice=invoice, purpose=PAGE_LINK)
    invoice.lines.all().delete()
    invoice.delete()
    assert client.get(path).status_code == 404


def test_public_pages_only_answer_get_and_head(client, invoice):
    path = invoice_link_path(invoice=invoice, purpose=PAGE_LINK)
    assert client.post(path).status_code == 405
    assert client.head(path).status_code == 200
