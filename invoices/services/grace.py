"""Drafts in grace: refreshed when usage arrives for them, finalized once their grace ends.

A draft is refreshed only when an event of its customer, timestamped before the end of its
period, was received after its usage was last read (usage_read_at): one EXISTS per draft
instead of re-reading every draft's usage on every run.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from billing.errors import AppError
from invoices.models import Invoice, InvoiceStatus
from invoices.services.lifecycle import invoice_finalize
from invoices.services.persist import invoice_refresh_usage
from metering.models import Event


def drafts_settle(*, at: datetime) -> tuple[int, list[Invoice]]:
    """Finalize the drafts whose grace ended; refresh the others that got new usage.

    Returns (how many drafts changed on refresh, the invoices finalized).
    """
    drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT, grace_until__isnull=False)
    finalized = []
    for invoice_id in (
        drafts.filter(grace_until__lte=at).order_by("pk").values_list("pk", flat=True)
    ):
        try:
            finalized.append(invoice_finalize(invoice=Invoice(pk=invoice_id), at=at))
        except AppError:
            pass  # finalized or voided by someone else meanwhile
    arrived = Event.objects.filter(
        external_customer_id=OuterRef("customer__external_id"),
        received_at__gt=OuterRef("usage_read_at"),
        timestamp__lt=OuterRef("period_end"),
    )
    stale = drafts.filter(grace_until__gt=at).filter(
        Q(usage_read_at__isnull=True) | Exists(arrived)
    )
    refreshed = 0
    for invoice_id in stale.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            locked = (
                Invoice.objects.select_for_update(of=("self",))
                .select_related("customer")
                .filter(pk=invoice_id, status=InvoiceStatus.DRAFT)
                .first()
            )
            if locked is not None and invoice_refresh_usage(invoice=locked, at=at):
                refreshed += 1
    return refreshed, finalized
