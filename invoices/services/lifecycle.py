"""An invoice's life after it is computed: finalize a draft, void, mark uncollectible.

draft → finalized → paid | void | uncollectible; a draft may be voided; an uncollectible invoice
may still be voided. Finalizing gives the gapless number under a row lock, sets issued_at = at
and due_date = the issue date + the customer's net payment terms, and hands the invoice to the
documents (PDF, email) inside the same transaction. A finalized invoice never changes again
but for its status: corrections are credit notes.
"""

from datetime import datetime

from django.db import transaction

from billing.errors import AppError
from invoices.documents import invoice_on_finalized
from invoices.models import Invoice, InvoiceKind, InvoiceStatus
from invoices.services.credit_notes import invoice_creditable, offsets_release
from invoices.services.credits import TOTAL_FIELDS as CREDIT_FIELDS
from invoices.services.credits import invoice_credits_apply, invoice_credits_return
from invoices.services.numbering import finalization_fields
from invoices.services.persist import invoice_refresh_usage

VOIDABLE = (InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED, InvoiceStatus.UNCOLLECTIBLE)


def _locked(invoice: Invoice) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=invoice.pk)
    )


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, at: datetime, refresh: bool = True) -> Invoice:
    """Finalize a draft: usage refreshed one last time, numbered, issued at `at`, due later,
    paid in part or whole by the customer's prepaid credits (invoices.services.credits).

    refresh=False when the caller just computed the lines in this transaction.
    """
    invoice = _locked(invoice)
    if invoice.status != InvoiceStatus.DRAFT:
        raise AppError.conflict(
            f"Invoice {invoice} is {invoice.status}: only a draft can be finalized."
        )
    if refresh:
        invoice_refresh_usage(invoice=invoice, at=at)
    fields = finalization_fields(customer=invoice.customer, at=at)
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice_credits_apply(invoice=invoice, at=at)
    invoice.save(update_fields=[*fields, *CREDIT_FIELDS, "updated_at"])
    invoice_on_finalized(invoice=invoice)
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, at: datetime, reissue: bool | None = None) -> Invoice:
    """Void a draft, a finalized or an uncollectible invoice: nothing is owed on it any more.

    A paid invoice is voided once credit notes credit its whole total (money paid goes back
    through them first). reissue: a subscription invoice's period is billed again by the next
    close (invoices.services.reissue); its ledger entries and prepaid fees stop counting now.
    By default an issued invoice is reissued and a voided draft (never issued) is not. The
    prepaid credits it spent go back to the wallet (invoices.services.credits).
    """
    invoice = _locked(invoice)
    if reissue is None:
        reissue = invoice.status != InvoiceStatus.DRAFT
    if invoice.status == InvoiceStatus.PAID:
        if invoice_creditable(invoice=invoice) > 0:
            raise AppError.conflict(
                f"Invoice {invoice} is paid: credit its whole total with a credit note "
                "(refund, wallet or next invoice) before voiding it."
            )
    elif invoice.status not in VOIDABLE:
        raise AppError.conflict(
            f"Invoice {invoice} is {invoice.status}: only a draft, finalized or uncollectible "
            "invoice (or a paid one credited in full) can be voided."
        )
    offsets_release(invoice=invoice)
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = at
    invoice.reissue_requested = bool(
        reissue and invoice.kind == InvoiceKind.SUBSCRIPTION and invoice.subscription_id
    )
    invoice.save(update_fields=["status", "voided_at", "reissue_requested", "updated_at"])
    invoice_credits_return(invoice=invoice, at=at)
    return invoice


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice, at: datetime) -> Invoice:
    """Mark a finalized invoice as not expected to be paid (it stays owed and numbered)."""
    invoice = _locked(invoice)
    if invoice.status != InvoiceStatus.FINALIZED:
        raise AppError.conflict(
            f"Invoice {invoice} is {invoice.status}: only a finalized invoice can be marked "
            "uncollectible."
        )
    invoice.status = InvoiceStatus.UNCOLLECTIBLE
    invoice.save(update_fields=["status", "updated_at"])
    return invoice
