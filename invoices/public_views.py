"""The customer's side of an invoice, reached through a signed, expiring link (no login):
the hosted invoice page and the PDF. A tampered link gets 404, an expired one 403."""

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from catalog.currencies import money_display
from invoices.balances import invoice_balance, invoice_payment_wording
from invoices.documents import (
    CREDIT_NOTE_PAGE_LINK,
    CREDIT_NOTE_PDF_LINK,
    PAGE_LINK,
    PDF_LINK,
    InvoiceLinkExpired,
    InvoiceLinkInvalid,
    credit_note_from_link,
    credit_note_link_path,
    credit_note_store_pdf,
    invoice_from_link,
    invoice_link_path,
    invoice_store_pdf,
)
from invoices.models import Invoice
from invoices.pdf import credit_note_document, date_display, invoice_document


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is the credential: keep it out of caches, search engines and the
    # Referer header of any link followed from the page.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _refusal(request: HttpRequest, error: Exception) -> HttpResponse:
    company = settings.TALLY_COMPANY
    if isinstance(error, InvoiceLinkExpired):
        response = render(request, "invoices/link_expired.html", {"company": company}, status=403)
    else:
        response = render(request, "invoices/link_invalid.html", {"company": company}, status=404)
    return _private(response)


def _invoice_or_refusal(request: HttpRequest, token: str, purpose: str):
    try:
        return invoice_from_link(token=token, purpose=purpose), None
    except (InvoiceLinkExpired, InvoiceLinkInvalid) as error:
        return None, _refusal(request, error)


@require_safe
def hosted_invoice(request: HttpRequest, token: str) -> HttpResponse:
    invoice, refusal = _invoice_or_refusal(request, token, PAGE_LINK)
    if refusal:
        return refusal
    balance = invoice_balance(invoice=invoice)
    context = {
        "company": settings.TALLY_COMPANY,
        "doc": invoice_document(invoice=invoice),
        "pdf_path": invoice_link_path(invoice=invoice, purpose=PDF_LINK),
        "token": token,
        "balance": balance,
        "amount_paid": money_display(balance.amount_paid, invoice.currency),
        "amount_remaining": money_display(balance.amount_remaining, invoice.currency),
        "wording": invoice_payment_wording(
            invoice=invoice,
            balance=balance,
            today=timezone.now().date(),
            format_date=date_display,
        ),
    }
    return _private(render(request, "invoices/hosted_invoice.html", context))


@require_safe
def invoice_pdf(request: HttpRequest, token: str) -> HttpResponse:
    invoice, refusal = _invoice_or_refusal(request, token, PDF_LINK)
    if refusal:
        return refusal
    invoice: Invoice = invoice_store_pdf(invoice=invoice, at=timezone.now())
    response = FileResponse(
        invoice.pdf_file.open("rb"),
        content_type="application/pdf",
        as_attachment="download" in request.GET,
        filename=f"{invoice.number}.pdf",
    )
    return _private(response)


def _credit_note_or_refusal(request: HttpRequest, token: str, purpose: str):
    try:
        return credit_note_from_link(token=token, purpose=purpose), None
    except (InvoiceLinkExpired, InvoiceLinkInvalid) as error:
        return None, _refusal(request, error)


@require_safe
def hosted_credit_note(request: HttpRequest, token: str) -> HttpResponse:
    note, refusal = _credit_note_or_refusal(request, token, CREDIT_NOTE_PAGE_LINK)
    if refusal:
        return refusal
    context = {
        "company": settings.TALLY_COMPANY,
        "doc": credit_note_document(credit_note=note),
        "pdf_path": credit_note_link_path(credit_note=note, purpose=CREDIT_NOTE_PDF_LINK),
    }
    return _private(render(request, "invoices/hosted_credit_note.html", context))


@require_safe
def credit_note_pdf(request: HttpRequest, token: str) -> HttpResponse:
    note, refusal = _credit_note_or_refusal(request, token, CREDIT_NOTE_PDF_LINK)
    if refusal:
        return refusal
    note = credit_note_store_pdf(credit_note=note, at=timezone.now())
    response = FileResponse(
        note.pdf_file.open("rb"),
        content_type="application/pdf",
        as_attachment="download" in request.GET,
        filename=f"{note.number}.pdf",
    )
    return _private(response)
