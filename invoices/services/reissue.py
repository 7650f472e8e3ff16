"""Void and reissue (docs/operations.md, "Void and reissue"): a voided subscription invoice whose
reissue was asked for is billed again by the next close, with the same steps and builder as the
first time. The charge ledger and the prepaid fees leave void invoices out, so the new invoice
prices the period's usage in full (late events included) and bills again the fees the voided one
billed (the in-arrears fee of the period, the next period's fee in advance); coupons it used
are given back. It gets a new number; the voided one keeps its own.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from billing.errors import AppError
from customers.models import Subscription
from customers.selectors import subscription_period_at, subscription_phases
from invoices.models import Invoice, InvoiceKind, InvoiceStatus
from invoices.services.inputs import BuildContext
from invoices.services.persist import invoice_create_from_draft
from invoices.services.steps import Step, StepKind, step_build

logger = logging.getLogger(__name__)


def _replacement_exists(invoice: Invoice) -> bool:
    return (
        Invoice.objects.filter(
            subscription_id=invoice.subscription_id,
            kind=invoice.kind,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
        )
        .exclude(status=InvoiceStatus.VOID)
        .exists()
    )


def reissue_step(*, subscription: Subscription, invoice: Invoice) -> Step:
    """The step that issued `invoice`: the opening, a plan change inside a period, or a close."""
    start, end = invoice.period_start, invoice.period_end
    if start == end:
        return Step(kind=StepKind.OPENING, period_start=start, period_end=end)
    period = subscription_period_at(subscription=subscription, at=start)
    if period is None:
        raise ValueError(f"Subscription #{subscription.pk} has no billing period at {start}.")
    changes = {
        phase.ends_at
        for phase in subscription_phases(subscription=subscription)
        if phase.ends_at is not None
    }
    if end in changes and period.start < end < period.end:
        return Step(
            kind=StepKind.PHASE_CHANGE,
            period_start=start,
            period_end=end,
            cycle_start=period.start,
            billed_from=start,
        )
    # A close: the slices before the last plan change inside it were billed at that change.
    billed_from = (
        Invoice.objects.filter(
            subscription=subscription,
            kind=InvoiceKind.SUBSCRIPTION,
            period_start__gte=start,
            period_end__gt=start,
            period_end__lt=end,
        )
        .exclude(status=InvoiceStatus.VOID)
        .aggregate(latest=Max("period_end"))["latest"]
        or start
    )
    return Step(
        kind=StepKind.PERIOD_CLOSE,
        period_start=start,
        period_end=end,
        cycle_start=start,
        billed_from=billed_from,
    )


def invoice_reissue(*, invoice: Invoice, at: datetime) -> Invoice | None:
    """Bill again the period of a voided invoice whose reissue was asked for; None when there
    is nothing to do (not asked, or already reissued)."""
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("customer", "plan")
            .prefetch_related("phases__plan")
            .get(pk=invoice.subscription_id)
        )
        invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.VOID or not invoice.reissue_requested:
            return None
        invoice.reissue_requested = False
        invoice.save(update_fields=["reissue_requested", "updated_at"])
        if _replacement_exists(invoice):
            return None
        step = reissue_step(subscription=subscription, invoice=invoice)
        draft = step_build(subscription=subscription, step=step, ctx=BuildContext())
        if draft is None:
            return None
        return invoice_create_from_draft(draft=draft, at=at)


def invoices_reissue_due(*, at: datetime) -> tuple[list[Invoice], list[str]]:
    """The close's pass: every voided invoice waiting for its reissue, oldest period first."""
    waiting = Invoice.objects.filter(
        status=InvoiceStatus.VOID,
        reissue_requested=True,
        kind=InvoiceKind.SUBSCRIPTION,
        subscription__isnull=False,
    ).order_by("subscription_id", "period_start", "period_end", "id")
    created, errors = [], []
    for invoice in waiting:
        try:
            reissued = invoice_reissue(invoice=invoice, at=at)
        except Exception as error:
            logger.exception("Reissuing invoice #%s failed", invoice.pk)
            errors.append(f"Reissue of invoice #{invoice.pk}: {error}")
            continue
        if reissued is not None:
            created.append(reissued)
    return created, errors


def invoice_rebill(*, invoice: Invoice, at: datetime) -> Invoice | None:
    """ "Re-bill this period" (the event debugger, for late events): void the period's invoice
    and reissue it at once from the usage known now. A paid invoice must be fully credited
    first (invoice_void refuses otherwise)."""
    from invoices.services.lifecycle import invoice_void

    if invoice.kind != InvoiceKind.SUBSCRIPTION or invoice.subscription_id is None:
        raise AppError.conflict(f"Invoice {invoice} is not a subscription period's invoice.")
    with transaction.atomic():
        invoice_void(invoice=invoice, at=at, reissue=True)
        return invoice_reissue(invoice=invoice, at=at)


def invoice_for_moment(*, external_customer_id: str, moment: datetime) -> Invoice | None:
    """The issued subscription invoice whose period holds `moment` (a late event's timestamp)."""
    return (
        Invoice.objects.filter(
            customer__external_id=external_customer_id,
            kind=InvoiceKind.SUBSCRIPTION,
            period_start__lte=moment,
            period_end__gt=moment,
        )
        .exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
        .select_related("customer")
        .order_by("-period_end")
        .first()
    )
