"""The invoice as a document for its customer: signed expiring links, the stored PDF and the
finalization email. Core's finalize service calls `invoice_on_finalized`; the rest follows."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from invoices.models import CreditNote, Invoice, InvoiceStatus
from invoices.pdf import credit_note_render_pdf, invoice_document, invoice_render_pdf
from invoices.signals import invoice_finalized, invoices_finalized_together

logger = logging.getLogger(__name__)

RENDER_TASK = "invoices.document_tasks.render_invoice_pdf_task"
# Invoices finalized together (the cycle close) are delivered by one task per RENDER_BATCH:
# queueing a task per invoice cost the close more than the rest of an invoice's saving.
RENDER_MANY_TASK = "invoices.document_tasks.render_invoice_pdfs_task"
RENDER_BATCH = 100

# Invoices a customer may see through a link: issued ones (a draft is still changing).
PUBLIC_STATUSES = (
    InvoiceStatus.FINALIZED,
    InvoiceStatus.PAID,
    InvoiceStatus.VOID,
    InvoiceStatus.UNCOLLECTIBLE,
)
# Statuses printed as a stamp across the PDF.
STAMPED = (InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE)
# The finalization email goes out while the invoice still asks for (or records) payment.
EMAILED_STATUSES = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID)

# One signing salt per purpose: a link to the page cannot be replayed as a link to the PDF.
PDF_LINK = "invoice-pdf"
PAGE_LINK = "invoice-page"
LINK_ROUTES = {PDF_LINK: "invoices_public:invoice-pdf", PAGE_LINK: "invoices_public:hosted-invoice"}
CREDIT_NOTE_PDF_LINK = "credit-note-pdf"
CREDIT_NOTE_PAGE_LINK = "credit-note-page"
CREDIT_NOTE_ROUTES = {
    CREDIT_NOTE_PDF_LINK: "invoices_public:credit-note-pdf",
    CREDIT_NOTE_PAGE_LINK: "invoices_public:hosted-credit-note",
}


class InvoiceLinkInvalid(Exception):
    """The link was not signed by us, was altered, or names no invoice a customer may see."""


class InvoiceLinkExpired(Exception):
    """The link was genuine but is older than INVOICE_LINK_MAX_AGE_DAYS."""


# --- Signed links --------------------------------------------------------------------------


def invoice_is_public(*, invoice: Invoice) -> bool:
    """True once the invoice is issued (numbered and no longer a draft)."""
    return bool(invoice.pk and invoice.number) and invoice.status in PUBLIC_STATUSES


def invoice_link_path(*, invoice: Invoice, purpose: str) -> str | None:
    """The site-relative signed path for `purpose` (PDF_LINK or PAGE_LINK); None for a draft."""
    if not invoice_is_public(invoice=invoice):
        return None
    token = signing.TimestampSigner(salt=purpose).sign(str(invoice.pk))
    return reverse(LINK_ROUTES[purpose], kwargs={"token": token})


def _absolute(path: str | None) -> str | None:
    return None if path is None else f"{settings.PUBLIC_BASE_URL}{path}"


def invoice_pdf_url(*, invoice: Invoice) -> str | None:
    """Absolute signed, expiring URL serving the PDF; None while there is nothing to serve."""
    return _absolute(invoice_link_path(invoice=invoice, purpose=PDF_LINK))


def invoice_hosted_url(*, invoice: Invoice) -> str | None:
    """Absolute signed, expiring URL of the customer's hosted invoice page."""
    return _absolute(invoice_link_path(invoice=invoice, purpose=PAGE_LINK))


def _unsigned(*, token: str, purpose: str) -> str:
    """The id a link of `purpose` signed (InvoiceLinkExpired / InvoiceLinkInvalid)."""
    max_age = timedelta(days=settings.INVOICE_LINK_MAX_AGE_DAYS)
    try:
        return signing.TimestampSigner(salt=purpose).unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise InvoiceLinkExpired(token) from None
    except signing.BadSignature:
        raise InvoiceLinkInvalid(token) from None


def invoice_from_link(*, token: str, purpose: str) -> Invoice:
    """The invoice a signed link names. Raises InvoiceLinkInvalid for a tampered or foreign
    token (or an invoice that is not public), InvoiceLinkExpired for a genuine but old one."""
    invoice_id = _unsigned(token=token, purpose=purpose)
    # The signature is ours, so the value is an id we signed.
    invoice = Invoice.objects.select_related("customer").filter(pk=int(invoice_id)).first()
    if invoice is None or not invoice_is_public(invoice=invoice):
        raise InvoiceLinkInvalid(token)
    return invoice


def credit_note_link_path(*, credit_note: CreditNote, purpose: str) -> str:
    token = signing.TimestampSigner(salt=purpose).sign(str(credit_note.pk))
    return reverse(CREDIT_NOTE_ROUTES[purpose], kwargs={"token": token})


def credit_note_pdf_url(*, credit_note: CreditNote) -> str:
    """Absolute signed, expiring URL of the credit note's PDF."""
    return _absolute(credit_note_link_path(credit_note=credit_note, purpose=CREDIT_NOTE_PDF_LINK))


def credit_note_hosted_url(*, credit_note: CreditNote) -> str:
    """Absolute signed, expiring URL of the customer's credit note page."""
    return _absolute(credit_note_link_path(credit_note=credit_note, purpose=CREDIT_NOTE_PAGE_LINK))


def credit_note_from_link(*, token: str, purpose: str) -> CreditNote:
    """The credit note a signed link names (InvoiceLinkInvalid / InvoiceLinkExpired)."""
    note_id = _unsigned(token=token, purpose=purpose)
    note = CreditNote.objects.select_related("customer", "invoice").filter(pk=int(note_id)).first()
    if note is None:
        raise InvoiceLinkInvalid(token)
    return note


def credit_note_store_pdf(*, credit_note: CreditNote, at: datetime) -> CreditNote:
    """Render the credit note's PDF once and store it as <number>.pdf (again once voided)."""
    stem = f"{credit_note.number}-{credit_note.status}"
    if credit_note.pdf_file and stem in credit_note.pdf_file.name:
        if credit_note.pdf_file.storage.exists(credit_note.pdf_file.name):
            return credit_note
    with transaction.atomic():
        locked = (
            CreditNote.objects.select_for_update()
            .select_related("customer", "invoice")
            .get(pk=credit_note.pk)
        )
        pdf = credit_note_render_pdf(credit_note=locked)
        locked.pdf_file.save(f"{stem}.pdf", ContentFile(pdf), save=False)
        locked.pdf_rendered_at = at
        locked.save(update_fields=["pdf_file", "pdf_rendered_at", "updated_at"])
    return locked


# --- The stored PDF ------------------------------------------------------------------------


def _pdf_stem(invoice: Invoice) -> str:
    """The stored file's name without extension: the number, plus the stamp the PDF carries
    (INV-2026-000123.pdf; INV-2026-000123-paid.pdf once re-rendered with its PAID stamp), plus
    how many credit notes it lists (…-cn2.pdf): a new credit note makes it render again."""
    stem = f"{invoice.number}-{invoice.status}" if invoice.status in STAMPED else invoice.number
    notes = invoice.credit_notes.count()
    return f"{stem}-cn{notes}" if notes else stem


def invoice_pdf_is_current(*, invoice: Invoice) -> bool:
    """True when the stored PDF exists and shows the invoice's status (a PDF rendered before a
    payment or a void lacks its PAID/VOID stamp). Decided by the file name, not by clocks, so
    back- or forward-dated actions (close_cycles --at) never make it render again and again."""
    if not invoice.pdf_file:
        return False
    name, stem = invoice.pdf_file.name.rsplit("/", 1)[-1], _pdf_stem(invoice)
    # The storage may append "_<random>" when the name was taken.
    if not name.startswith(stem) or name[len(stem) : len(stem) + 1] not in (".", "_"):
        return False
    return invoice.pdf_file.storage.exists(invoice.pdf_file.name)


def invoices_missing_pdf() -> QuerySet[Invoice]:
    """Issued invoices with no PDF yet, or whose PDF predates their payment or void."""
    outdated = Q(pdf_file="")
    for status in STAMPED:
        outdated |= Q(status=status) & ~Q(pdf_file__contains=f"-{status}")
    return Invoice.objects.filter(status__in=PUBLIC_STATUSES, number__isnull=False).filter(outdated)


def invoice_store_pdf(*, invoice: Invoice, at: datetime, force: bool = False) -> Invoice:
    """Render the issued invoice's PDF once and store it as <number>.pdf (<number>-<status>.pdf
    when it carries a PAID/VOID/UNCOLLECTIBLE stamp); returns the invoice as stored. A stored
    PDF that shows the current status is kept unless `force`. Drafts are refused."""
    if not invoice_is_public(invoice=invoice):
        raise ValidationError(
            f"Invoice {invoice} is a draft (or was voided before it was issued): "
            "only a finalized invoice has a PDF."
        )
    if not force and invoice_pdf_is_current(invoice=invoice):
        return invoice
    with transaction.atomic():
        # Two workers storing the same PDF queue up here; the second finds it done.
        locked = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer")
            .get(pk=invoice.pk)
        )
        if not force and invoice_pdf_is_current(invoice=locked):
            return locked
        pdf = invoice_render_pdf(invoice=locked)
        replaced = locked.pdf_file.name
        locked.pdf_file.save(f"{_pdf_stem(locked)}.pdf", ContentFile(pdf), save=False)
        locked.pdf_rendered_at = at
        locked.save(update_fields=["pdf_file", "pdf_rendered_at", "updated_at"])
        if replaced and replaced != locked.pdf_file.name:
            storage = locked.pdf_file.storage
            transaction.on_commit(lambda: storage.delete(replaced))
    return locked


@dataclass
class RenderReport:
    rendered: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def invoice_render_missing_pdfs(
    *, at: datetime, force: bool = False, invoice_id: int | None = None
) -> RenderReport:
    """Store the PDF of every issued invoice that lacks an up-to-date one (of every issued
    invoice with `force`; of `invoice_id` only when given). One failure is reported and does
    not stop the others."""
    if force:
        candidates = Invoice.objects.filter(status__in=PUBLIC_STATUSES, number__isnull=False)
    else:
        candidates = invoices_missing_pdf()
    if invoice_id is not None:
        invoice = Invoice.objects.filter(pk=invoice_id).first()
        if invoice is None:
            raise ValidationError(f"There is no invoice {invoice_id}.")
        if not invoice_is_public(invoice=invoice):
            raise ValidationError(f"Invoice {invoice_id} is a draft: finalize it first.")
        candidates = candidates.filter(pk=invoice_id)
    report = RenderReport()
    for invoice in candidates.select_related("customer").order_by("pk").iterator():
        try:
            invoice_store_pdf(invoice=invoice, at=at, force=force)
        except Exception as error:  # one broken invoice must not block the rest
            logger.exception("Could not render the PDF of invoice %s", invoice.number)
            report.failed.append((invoice.number, f"{type(error).__name__}: {error}"))
        else:
            report.rendered.append(invoice.number)
    return report


# --- Email ---------------------------------------------------------------------------------


def invoice_send_email(*, invoice: Invoice, at: datetime) -> bool:
    """Email the issued invoice to its customer once, with the PDF attached and the hosted
    link. Returns False (and logs why) when it was already sent, the customer has no email
    address, or the invoice was voided meanwhile."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    if not invoice_is_public(invoice=invoice):
        raise ValidationError(f"Invoice {invoice} is a draft: it is emailed once finalized.")
    if invoice.emailed_at is not None:
        logger.info("Invoice %s was already emailed at %s", invoice.number, invoice.emailed_at)
        return False
    if invoice.status not in EMAILED_STATUSES:
        logger.info("Invoice %s is %s: not emailed", invoice.number, invoice.status)
        return False
    customer = invoice.customer
    if not customer.email:
        logger.info(
            "Invoice %s not emailed: customer %s has no email address",
            invoice.number,
            customer.external_id,
        )
        return False
    invoice = invoice_store_pdf(invoice=invoice, at=at)
    message = _invoice_email(invoice=invoice)
    if message is None:
        logger.info("Invoice %s not emailed: the operator switched the email off", invoice.number)
        return False
    # Claim the send first: of two workers, only the one that sets emailed_at sends.
    claimed = Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(emailed_at=at)
    if not claimed:
        return False
    try:
        message.send()
    except Exception:
        Invoice.objects.filter(pk=invoice.pk).update(emailed_at=None)
        raise
    return True


def _invoice_email(*, invoice: Invoice) -> EmailMultiAlternatives | None:
    """Rendered from the operator's "invoice finalized" template by the composer the settings
    name (docs/operations.md, "Customer emails"); None when it is switched off."""
    composer = import_string(settings.CUSTOMER_EMAIL_COMPOSER)
    context = {
        "doc": invoice_document(invoice=invoice),
        "hosted_url": invoice_hosted_url(invoice=invoice),
        "pdf_url": invoice_pdf_url(invoice=invoice),
    }
    message = composer(kind="invoice_finalized", to=[invoice.customer.email], context=context)
    if message is None:
        return None
    with invoice.pdf_file.open("rb") as pdf:
        message.attach(f"{invoice.number}.pdf", pdf.read(), "application/pdf")
    return message


# --- Finalization --------------------------------------------------------------------------


def invoice_deliver(*, invoice: Invoice, at: datetime) -> Invoice:
    """What follows a finalization: store the PDF, then email it to the customer."""
    invoice = invoice_store_pdf(invoice=invoice, at=at)
    invoice_send_email(invoice=invoice, at=at)
    invoice.refresh_from_db(fields=["emailed_at"])
    return invoice


def invoice_on_finalized(*, invoice: Invoice) -> None:
    """Called inside the finalizing transaction: queue PDF rendering and the email on commit
    (a rolled-back finalization queues nothing; the worker sees the committed invoice)."""
    # Next-invoice credit notes are taken off before payments sees what is left to pay.
    # (Imported here: invoices.services imports this module.)
    from invoices.services.credit_notes import offsets_apply

    offsets_apply(invoice=invoice)
    invoice_id = invoice.pk
    transaction.on_commit(lambda: async_task(RENDER_TASK, invoice_id))
    invoice_finalized.send(sender=Invoice, invoice=invoice)


def invoices_on_finalized(*, invoices: list[Invoice], lines: list | None = None) -> None:
    """invoice_on_finalized for invoices finalized together (see invoices_finalized_together;
    `lines`: the lines of invoices created in this transaction, passed on with it)."""
    if not invoices:
        return
    from invoices.services.credit_notes import offsets_apply, offsets_open_customer_ids

    # Next-invoice credit notes, as invoice_on_finalized takes them: one query finds the few
    # customers that have any open.
    with_offsets = offsets_open_customer_ids(customer_ids={i.customer_id for i in invoices})
    for invoice in invoices:
        if invoice.customer_id in with_offsets:
            offsets_apply(invoice=invoice)
    invoice_ids = [invoice.pk for invoice in invoices]
    for start in range(0, len(invoice_ids), RENDER_BATCH):
        chunk = invoice_ids[start : start + RENDER_BATCH]
        transaction.on_commit(lambda chunk=chunk: async_task(RENDER_MANY_TASK, chunk))
    for invoice in invoices:
        invoice_finalized.send(sender=Invoice, invoice=invoice, together=True)
    invoices_finalized_together.send(sender=Invoice, invoices=invoices, lines=lines)
