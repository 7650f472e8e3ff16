"""What follows a finalization: the stored PDF, the customer's email, the tasks and the
render_invoice_pdfs command."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django_q.models import Task
from django_q.tasks import async_task
from pypdf import PdfReader

from invoices.document_tasks import render_invoice_pdfs_task
from invoices.documents import (
    invoice_on_finalized,
    invoice_send_email,
    invoice_store_pdf,
    invoices_missing_pdf,
    invoices_on_finalized,
)
from invoices.models import Invoice
from tests.factories import FinalizedInvoiceFactory, TieredUsageLineFactory

AT = datetime(2026, 2, 1, 0, 10, tzinfo=UTC)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def invoice(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000123")
    TieredUsageLineFactory(invoice=invoice)
    return invoice


# --- Finalization hook -------------------------------------------------------------------------


def test_finalization_stores_the_pdf_and_emails_the_customer_on_commit(
    invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            invoice_on_finalized(invoice=invoice)
            # Nothing leaves before the finalizing transaction commits.
            assert len(mail.outbox) == 0

    invoice.refresh_from_db()
    assert invoice.pdf_rendered_at is not None
    assert "INV-2026-000123" in pdf_text(invoice.pdf_file.read())
    assert invoice.emailed_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [invoice.customer.email]
    task = Task.objects.get(func="invoices.document_tasks.render_invoice_pdf_task")
    assert task.success, task.result
    assert task.args == (invoice.pk,)


def test_invoices_finalized_together_are_delivered_by_one_task(
    db, django_capture_on_commit_callbacks
):
    invoices = [FinalizedInvoiceFactory(number=f"INV-2026-00012{n}") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            invoices_on_finalized(invoices=invoices)

    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.number in pdf_text(invoice.pdf_file.read())
        assert invoice.emailed_at is not None
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        invoice.customer.email for invoice in invoices
    )
    task = Task.objects.get(func="invoices.document_tasks.render_invoice_pdfs_task")
    assert task.success and task.args == ([invoice.pk for invoice in invoices],)


def test_one_invoice_failing_in_a_delivery_batch_does_not_stop_the_others(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000130")
    missing = invoice.pk + 1000

    with pytest.raises(RuntimeError, match=rf"1 delivered, failed: \['#{missing}: "):
        render_invoice_pdfs_task([missing, invoice.pk])

    invoice.refresh_from_db()
    assert invoice.pdf_rendered_at is not None and invoice.emailed_at is not None


def test_a_rolled_back_finalization_queues_nothing(invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                invoice_on_finalized(invoice=invoice)
                raise RuntimeError("finalization failed half-way")

    assert callbacks == []
    invoice.refresh_from_db()
    assert not invoice.pdf_file
    assert invoice.emailed_at is None
    assert mail.outbox == []


# --- The stored PDF ----------------------------------------------------------------------------


def test_store_pdf_renders_once_and_names_the_file_after_the_number(invoice):
    stored = invoice_store_pdf(invoice=invoice, at=AT)

    assert stored.pdf_rendered_at == AT
    assert stored.pdf_file.name.startswith("invoices/pdf/")
    assert "/INV-2026-000123" in stored.pdf_file.name
    assert stored.pdf_file.read().startswith(b"%PDF")

    again = invoice_store_pdf(invoice=Invoice.objects.get(pk=invoice.pk), at=AT + timedelta(1))
    assert again.pdf_rendered_at == AT
    assert again.pdf_file.name == stored.pdf_file.name


def test_store_pdf_with_force_renders_again_and_drops_the_old_file(
    invoice, django_capture_on_commit_callbacks
):
    first = invoice_store_pdf(invoice=invoice, at=AT)
    storage, old_name = first.pdf_file.storage, first.pdf_file.name

    with django_capture_on_commit_callbacks(execute=True):
        second = invoice_store_pdf(invoice=first, at=AT + timedelta(hours=1), force=True)

    assert second.pdf_rendered_at == AT + timedelta(hours=1)
    assert second.pdf_file.name != old_name
    assert storage.exists(second.pdf_file.name)
    assert not storage.exists(old_name)


def test_a_pdf_rendered_before_payment_is_rendered_again_with_its_stamp_once(invoice):
    stored = invoice_store_pdf(invoice=invoice, at=AT)
    assert "PAID" not in pdf_text(stored.pdf_file.read())
    # Paid at a moment later than "now" (a forward-dated demo): clocks must not matter.
    paid_at = datetime(2030, 1, 1, tzinfo=UTC)
    Invoice.objects.filter(pk=invoice.pk).update(status="paid", paid_at=paid_at)
    assert invoices_missing_pdf().filter(pk=invoice.pk).exists()

    paid = invoice_store_pdf(invoice=Invoice.objects.get(pk=invoice.pk), at=AT + timedelta(4))

    assert paid.pdf_rendered_at == AT + timedelta(days=4)
    assert "PAID" in pdf_text(paid.pdf_file.read())
    assert "/INV-2026-000123-paid" in paid.pdf_file.name
    assert not invoices_missing_pdf().filter(pk=invoice.pk).exists()
    again = invoice_store_pdf(invoice=Invoice.objects.get(pk=invoice.pk), at=AT + timedelta(5))
    assert (again.pdf_file.name, again.pdf_rendered_at) == (
        paid.pdf_file.name,
        paid.pdf_rendered_at,
    )


def test_a_missing_file_is_rendered_again(invoice):
    stored = invoice_store_pdf(invoice=invoice, at=AT)
    stored.pdf_file.storage.delete(stored.pdf_file.name)

    again = invoice_store_pdf(invoice=stored, at=AT + timedelta(hours=1))

    assert again.pdf_rendered_at == AT + timedelta(hours=1)
    assert again.pdf_file.storage.exists(again.pdf_file.name)


def test_a_draft_has_no_pdf_to_store(db):
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    with pytest.raises(ValidationError, match="only a finalized invoice has a PDF"):
        invoice_store_pdf(invoice=draft, at=AT)
    draft.refresh_from_db()
    assert not draft.pdf_file and draft.pdf_rendered_at is None


# --- Email -------------------------------------------------------------------------------------


def test_email_carries_amount_due_date_link_and_pdf(invoice):
    assert invoice_send_email(invoice=invoice, at=AT) is True

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Invoice INV-2026-000123 from Tally Demo Inc."
    assert message.to == [invoice.customer.email]
    assert message.reply_to == ["billing@tally.example"]
    assert "$1,600.00" in message.body
    assert "Feb 15, 2026" in message.body
    # An absolute signed link to this invoice's page (the token starts with its id).
    assert f"http://testserver/i/{invoice.pk}:" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "$1,600.00" in html and "View invoice" in html
    [(filename, content, attachment_type)] = message.attachments
    assert (filename, attachment_type) == ("INV-2026-000123.pdf", "application/pdf")
    assert "INV-2026-000123" in pdf_text(content)
    invoice.refresh_from_db()
    assert invoice.emailed_at == AT
    assert invoice.pdf_file  # the attachment is the stored PDF


def test_email_link_opens_the_hosted_page(client, invoice):
    invoice_send_email(invoice=invoice, at=AT)
    body = mail.outbox[0].body
    link = next(word for word in body.split() if word.startswith("http://testserver/i/"))
    response = client.get(link.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert "INV-2026-000123" in response.content.decode()


def test_email_is_sent_once(invoice):
    assert invoice_send_email(invoice=invoice, at=AT) is True
    assert invoice_send_email(invoice=invoice, at=AT + timedelta(hours=1)) is False

    assert len(mail.outbox) == 1
    invoice.refresh_from_db()
    assert invoice.emailed_at == AT


def test_no_email_address_means_no_email(db):
    invoice = FinalizedInvoiceFactory(customer__email="")

    assert invoice_send_email(invoice=invoice, at=AT) is False

    assert mail.outbox == []
    invoice.refresh_from_db()
    assert invoice.emailed_at is None


def test_an_invoice_voided_before_the_email_left_is_not_emailed(db):
    invoice = FinalizedInvoiceFactory(status="void")
    assert invoice_send_email(invoice=invoice, at=AT) is False
    assert mail.outbox == []


def test_a_draft_is_not_emailed(db):
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    with pytest.raises(ValidationError):
        invoice_send_email(invoice=draft, at=AT)
    assert mail.outbox == []


def test_a_failed_send_can_be_retried(invoice, settings):
    settings.EMAIL_BACKEND = "tests.invoices.test_documents.BrokenEmailBackend"
    with pytest.raises(ConnectionRefusedError):
        invoice_send_email(invoice=invoice, at=AT)
    invoice.refresh_from_db()
    assert invoice.emailed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert invoice_send_email(invoice=invoice, at=AT) is True
    assert len(mail.outbox) == 1


class BrokenEmailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


# --- Tasks and the command ---------------------------------------------------------------------


def test_render_task_through_the_queue(invoice):
    task_id = async_task("invoices.document_tasks.render_invoice_pdf_task", invoice.pk)

    task = Task.objects.get(id=task_id)
    assert task.success, task.result
    assert task.result.startswith("INV-2026-000123: PDF stored, emailed at 20")
    invoice.refresh_from_db()
    assert invoice.pdf_file and invoice.emailed_at
    assert len(mail.outbox) == 1


def test_render_missing_task_renders_only_issued_invoices_without_a_pdf(db):
    missing = [FinalizedInvoiceFactory(), FinalizedInvoiceFactory(status="paid")]
    draft = FinalizedInvoiceFactory(status="draft", number=None)

    task_id = async_task("invoices.document_tasks.render_missing_pdfs_task")

    task = Task.objects.get(id=task_id)
    assert task.success, task.result
    assert task.result == "2 PDFs rendered"
    for invoice in missing:
        invoice.refresh_from_db()
        assert invoice.pdf_file
    draft.refresh_from_db()
    assert not draft.pdf_file
    assert mail.outbox == []  # rendering missing PDFs sends no email


def test_command_renders_missing_pdfs_only(db):
    already = FinalizedInvoiceFactory(number="INV-2026-000001")
    invoice_store_pdf(invoice=already, at=AT)
    already.refresh_from_db()
    missing = [
        FinalizedInvoiceFactory(number="INV-2026-000002"),
        FinalizedInvoiceFactory(number="INV-2026-000003", status="void", voided_at=AT),
    ]
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    out = io.StringIO()

    call_command("render_invoice_pdfs", stdout=out)

    assert "Rendered 2 invoice PDF(s)." in out.getvalue()
    assert "INV-2026-000002" in out.getvalue() and "INV-2026-000003" in out.getvalue()
    assert "INV-2026-000001" not in out.getvalue()
    for invoice in missing:
        invoice.refresh_from_db()
        assert invoice.pdf_file
    kept = Invoice.objects.get(pk=already.pk)
    assert (kept.pdf_file.name, kept.pdf_rendered_at) == (already.pdf_file.name, AT)
    draft.refresh_from_db()
    assert not draft.pdf_file

    again = io.StringIO()
    call_command("render_invoice_pdfs", stdout=again)
    assert "Rendered 0 invoice PDF(s)." in again.getvalue()


def test_command_force_renders_every_issued_invoice_again(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000010")
    invoice_store_pdf(invoice=invoice, at=AT)
    out = io.StringIO()

    call_command("render_invoice_pdfs", "--force", stdout=out)

    assert "Rendered 1 invoice PDF(s)." in out.getvalue()
    invoice.refresh_from_db()
    assert invoice.pdf_rendered_at > AT


def test_command_for_one_invoice(db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000020")
    other = FinalizedInvoiceFactory(number="INV-2026-000021")
    out = io.StringIO()

    call_command("render_invoice_pdfs", "--invoice", str(invoice.pk), stdout=out)

    assert "Rendered 1 invoice PDF(s)." in out.getvalue()
    invoice.refresh_from_db()
    other.refresh_from_db()
    assert invoice.pdf_file and not other.pdf_file


@pytest.mark.parametrize(
    ("make_invoice", "message"),
    [
        (lambda: FinalizedInvoiceFactory(status="draft", number=None), "is a draft"),
        (lambda: None, "There is no invoice"),
    ],
)
def test_command_refuses_a_draft_or_unknown_invoice(db, make_invoice, message):
    invoice = make_invoice()
    invoice_id = invoice.pk if invoice else 999999
    with pytest.raises(CommandError, match=message):
        call_command("render_invoice_pdfs", "--invoice", str(invoice_id), stdout=io.StringIO())
    if invoice:
        invoice.refresh_from_db()
        assert not invoice.pdf_file


def test_finalizing_a_draft_through_core_delivers_the_numbered_pdf_and_email(
    db, django_capture_on_commit_callbacks
):
    from invoices.services import invoice_finalize

    draft = FinalizedInvoiceFactory(status="draft", number=None, issued_at=None, due_date=None)
    TieredUsageLineFactory(invoice=draft)

    with django_capture_on_commit_callbacks(execute=True):
        finalized = invoice_finalize(invoice=draft, at=AT, refresh=False)

    finalized.refresh_from_db()
    assert finalized.number
    assert finalized.pdf_file and finalized.emailed_at
    text = pdf_text(finalized.pdf_file.read())
    assert finalized.number in text and "$1,600.00" in text
    [message] = mail.outbox
    assert message.subject.startswith(f"Invoice {finalized.number} from ")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_store_one_pdf_and_send_one_email():
    import threading

    from django.db import connection

    from invoices.documents import invoice_deliver

    invoice = FinalizedInvoiceFactory(number="INV-2026-000777")
    TieredUsageLineFactory(invoice=invoice)
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            invoice_deliver(invoice=Invoice.objects.get(pk=invoice.pk), at=AT)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(mail.outbox) == 1
    invoice.refresh_from_db()
    assert invoice.emailed_at == AT
    storage = invoice.pdf_file.storage
    folder = invoice.pdf_file.name.rsplit("/", 1)[0]
    stored = [name for name in storage.listdir(folder)[1] if name.startswith("INV-2026-000777")]
    assert stored == [invoice.pdf_file.name.rsplit("/", 1)[1]]
