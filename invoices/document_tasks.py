"""django-q2 entry points for invoice documents: thin wrappers over invoices.documents."""

from django.utils import timezone

from invoices.documents import invoice_deliver, invoice_render_missing_pdfs
from invoices.models import Invoice


def render_invoice_pdf_task(invoice_id: int) -> str:
    """Queued on finalization: store the invoice's PDF, then email it to the customer."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    invoice = invoice_deliver(invoice=invoice, at=timezone.now())
    return f"{invoice.number}: PDF stored, emailed at {invoice.emailed_at or 'never'}"


def render_missing_pdfs_task() -> str:
    """Scheduled: store the PDF of every issued invoice that lacks an up-to-date one."""
    report = invoice_render_missing_pdfs(at=timezone.now())
    if report.failed:
        # Fail the task so the failure shows in the admin's failed tasks, with the reasons.
        raise RuntimeError(
            f"{len(report.rendered)} PDFs rendered, {len(report.failed)} failed: {report.failed}"
        )
    return f"{len(report.rendered)} PDFs rendered"
