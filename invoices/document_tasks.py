"""django-q2 entry points for invoice documents: thin wrappers over invoices.documents."""

import logging

from django.utils import timezone

from invoices.documents import invoice_deliver, invoice_render_missing_pdfs
from invoices.models import Invoice

logger = logging.getLogger(__name__)


def render_invoice_pdf_task(invoice_id: int) -> str:
    """Queued on finalization: store the invoice's PDF, then email it to the customer."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    invoice = invoice_deliver(invoice=invoice, at=timezone.now())
    return f"{invoice.number}: PDF stored, emailed at {invoice.emailed_at or 'never'}"


def render_invoice_pdfs_task(invoice_ids: list[int]) -> str:
    """Queued for invoices finalized together: render_invoice_pdf_task for each. One that fails
    does not stop the others; the task then fails listing them, and its retry (or the
    render-missing-invoice-pdfs schedule) skips what was already stored and emailed."""
    failed = []
    for invoice_id in invoice_ids:
        try:
            render_invoice_pdf_task(invoice_id)
        except Exception as error:
            logger.exception("Delivering invoice #%s failed", invoice_id)
            failed.append(f"#{invoice_id}: {error}")
    if failed:
        raise RuntimeError(f"{len(invoice_ids) - len(failed)} delivered, failed: {failed}")
    return f"{len(invoice_ids)} invoice(s): PDF stored and emailed"


def render_missing_pdfs_task() -> str:
    """Scheduled: store the PDF of every issued invoice that lacks an up-to-date one."""
    report = invoice_render_missing_pdfs(at=timezone.now())
    if report.failed:
        # Fail the task so the failure shows in the admin's failed tasks, with the reasons.
        raise RuntimeError(
            f"{len(report.rendered)} PDFs rendered, {len(report.failed)} failed: {report.failed}"
        )
    return f"{len(report.rendered)} PDFs rendered"
