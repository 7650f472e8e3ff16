"""Saving a computed invoice with its ledger entries, and refreshing a draft as late events arrive.

Grace period: an invoice with usage lines is saved as a draft until grace_until = period end +
the customer's invoice_grace_period_hours; the close refreshes it on each run and finalizes it
once grace_until <= at (at once when the grace is 0, or when it already passed: a catch-up).
An invoice without usage (an opening fee) has nothing to wait for and is finalized at once.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from billing.bulk import rows_insert, rows_update, values_insert
from customers.models import Subscription, SubscriptionPhase
from invoices.documents import invoices_on_finalized
from invoices.models import (
    Invoice,
    InvoiceDiscount,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LineKind,
)
from invoices.services.builder import entry_owed
from invoices.services.credits import invoices_credits_apply
from invoices.services.drafts import InvoiceDraft, Totals, draft_totals
from invoices.services.inputs import BuildContext
from invoices.services.ledger import billed_before, ledger_line
from invoices.services.numbering import finalization_fields, invoice_numbers_take


class SavedLine(NamedTuple):
    """A line the close just saved, as what follows its finalization reads it (finance's
    revenue schedules, through invoices_finalized_together): the close writes its lines from
    tuples, without an InvoiceLine instance each (docs/performance.md, "Cycle close")."""

    id: int
    invoice_id: int
    position: int
    amount: Decimal
    discount: Decimal
    usage_start: datetime | None
    usage_end: datetime | None


TOTAL_FIELDS = ("subtotal", "discount", "tax", "total", "credits_applied", "amount_due")
ADJUSTMENT_FIELDS = ("taxes", "coupons", "tax_exempt_reason")


def totals_fields(totals: Totals) -> dict:
    """The Invoice fields a computed invoice's totals set (amounts, per-rate taxes, coupons)."""
    return {
        **{name: getattr(totals, name) for name in TOTAL_FIELDS},
        "taxes": totals.taxes_json,
        "coupons": totals.coupons_json,
        "tax_exempt_reason": totals.tax_exempt_reason,
    }


def _discount_rows(invoice: Invoice, totals: Totals) -> list[InvoiceDiscount]:
    return [
        InvoiceDiscount(
            invoice=invoice, applied_coupon_id=share.applied_coupon_id, amount=share.amount
        )
        for share in totals.coupons
    ]


def invoice_create_from_draft(*, draft: InvoiceDraft, at: datetime) -> Invoice:
    """Save one computed invoice (see invoices_create_from_drafts)."""
    return invoices_create_from_drafts(drafts=[draft], at=at)[0]


def invoices_create_from_drafts(*, drafts: list[InvoiceDraft], at: datetime) -> list[Invoice]:
    """Save computed invoices, their lines and ledger entries; those whose grace is over are
    finalized at once.

    Call inside the close's transaction: finalized invoices are numbered (in order) and handed
    to the documents (PDF, email) in it. A few statements whatever the number of invoices: on
    PostgreSQL an id read and a COPY per table (billing.bulk.rows_insert).
    """
    return _invoices_save(drafts=drafts, at=at, finalize=True)[0]


def invoices_save_as_drafts(
    *, drafts: list[InvoiceDraft], at: datetime
) -> tuple[list[Invoice], list[SavedLine]]:
    """Save computed invoices with their lines and ledger entries as drafts, even those whose
    grace is over: (invoices, their lines). The close's batch path commits them, then finalizes
    the due ones with `invoices_finalize_saved` in a short transaction of its own, so the
    year's number row is locked for the numbering and not for the batch's inserts and commit
    (docs/scaling.md, "Cycle close across machines"). A draft left by a crash in between is
    finalized by the next close (`drafts_settle`), as any draft whose grace is over."""
    return _invoices_save(drafts=drafts, at=at, finalize=False)


def invoices_finalize_saved(
    *, invoices: list[Invoice], lines: list[SavedLine], at: datetime
) -> list[Invoice]:
    """Finalize, in one transaction, the invoices of `invoices_save_as_drafts` whose grace is
    over and that are still drafts (another close may have finalized one meanwhile): numbered
    in order, credits applied, handed to the documents. Returns the invoices finalized here."""
    due = {invoice.pk: invoice for invoice in invoices if invoice.grace_until <= at}
    if not due:
        return []
    with transaction.atomic():
        still_drafts = set(
            Invoice.objects.select_for_update()
            .filter(pk__in=list(due), status=InvoiceStatus.DRAFT)
            .values_list("pk", flat=True)
        )
        finalized = [invoice for pk, invoice in sorted(due.items()) if pk in still_drafts]
        if not finalized:
            return []
        numbers = iter(invoice_numbers_take(year=at.year, count=len(finalized)))
        now = timezone.now()
        for invoice in finalized:
            fields = finalization_fields(customer=invoice.customer, at=at, number=next(numbers))
            for name, value in fields.items():
                setattr(invoice, name, value)
            invoice.updated_at = now
        rows_update(Invoice, finalized, [*fields, "updated_at"])
        invoices_credits_apply(invoices=finalized, at=at)
        invoices_on_finalized(
            invoices=finalized, lines=[row for row in lines if row.invoice_id in still_drafts]
        )
    return finalized


def _invoices_save(
    *, drafts: list[InvoiceDraft], at: datetime, finalize: bool
) -> tuple[list[Invoice], list[SavedLine]]:
    graces = [_grace_until(draft, at) for draft in drafts]
    finals = [finalize and grace_until <= at for grace_until in graces]
    numbers = iter(invoice_numbers_take(year=at.year, count=sum(finals)))
    invoices = []
    for draft, grace_until, final in zip(drafts, graces, finals, strict=True):
        status = (
            finalization_fields(customer=draft.customer, at=at, number=next(numbers))
            if final
            else {"status": InvoiceStatus.DRAFT}
        )
        invoices.append(
            Invoice(
                customer=draft.customer,
                subscription=draft.subscription,
                kind=draft.kind,
                currency=draft.currency,
                period_start=draft.period_start,
                period_end=draft.period_end,
                grace_until=grace_until,
                usage_read_at=at,
                **status,
                **totals_fields(draft.totals),
            )
        )
    rows_insert(Invoice, invoices)
    rows_insert(
        InvoiceDiscount,
        (
            discount
            for invoice, draft in zip(invoices, drafts, strict=True)
            for discount in _discount_rows(invoice, draft.totals)
        ),
    )
    written = [
        (invoice, line)
        for invoice, draft in zip(invoices, drafts, strict=True)
        for line in draft.lines
    ]
    ids = values_insert(
        InvoiceLine, LINE_FIELDS, (_line_row(invoice, line) for invoice, line in written)
    )
    values_insert(
        LedgerEntry,
        LEDGER_FIELDS,
        (
            _ledger_row(line_id=line_id, invoice=invoice, line=line)
            for line_id, (invoice, line) in zip(ids, written, strict=True)
            if line.owed is not None
        ),
    )
    rows = [
        SavedLine(
            line_id,
            invoice.pk,
            line.position,
            line.amount,
            line.discount,
            line.usage_start,
            line.usage_end,
        )
        for line_id, (invoice, line) in zip(ids, written, strict=True)
    ]
    finalized = [invoice for invoice, final in zip(invoices, finals, strict=True) if final]
    invoices_credits_apply(invoices=finalized, at=at)
    finalized_ids = {invoice.pk for invoice in finalized}
    invoices_on_finalized(
        invoices=finalized, lines=[row for row in rows if row.invoice_id in finalized_ids]
    )
    return invoices, rows


LINE_FIELDS = (
    "invoice_id",
    "position",
    "kind",
    "description",
    "plan_id",
    "charge_id",
    "meter_id",
    "quantity",
    "unit_amount",
    "amount",
    "discount",
    "breakdown",
    "usage_start",
    "usage_end",
)


def _line_row(invoice: Invoice, line) -> tuple:
    """The LINE_FIELDS of a computed line's InvoiceLine."""
    return (
        invoice.pk,
        line.position,
        line.kind,
        line.description[:300],
        None if line.plan is None else line.plan.pk,
        None if line.charge is None else line.charge.pk,
        None if line.meter is None else line.meter.pk,
        line.quantity,
        line.unit_amount,
        line.amount,
        line.discount,
        line.breakdown,
        line.usage_start,
        line.usage_end,
    )


LEDGER_FIELDS = (
    "line_id",
    "invoice_id",
    "subscription_id",
    "charge_id",
    "period_start",
    "slice_start",
    "slice_end",
    "window_start",
    "usage_until",
    "quantity",
    "event_count",
    "owed",
    "amount",
)


def _ledger_row(*, line_id: int, invoice: Invoice, line) -> tuple:
    """The LEDGER_FIELDS of the ledger's record of what a saved usage line bills."""
    owed = line.owed
    key = owed.key
    return (
        line_id,
        invoice.pk,
        key.subscription_id,
        key.charge_id,
        key.period_start,
        key.slice_start,
        owed.piece.end,
        owed.window_start,
        owed.until,
        owed.usage.quantity,
        owed.usage.event_count,
        owed.amount,
        line.amount,
    )


def _grace_until(draft: InvoiceDraft, at: datetime) -> datetime:
    """Period end + the customer's grace when the invoice bills usage; else `at` (no wait)."""
    has_usage = any(line.kind == LineKind.USAGE for line in draft.lines)
    if not has_usage or draft.period_end is None:
        return at
    return draft.period_end + timedelta(hours=draft.customer.invoice_grace_period_hours)


def _with_phases(subscription_id: int) -> Subscription:
    return (
        Subscription.objects.select_related("customer", "plan")
        .prefetch_related(
            Prefetch("phases", queryset=SubscriptionPhase.objects.select_related("plan"))
        )
        .get(pk=subscription_id)
    )


def invoice_refresh_usage(*, invoice: Invoice, at: datetime) -> bool:
    """Re-price a draft's closing usage lines through the ledger; True when anything changed.

    The caller holds the invoice's row lock and has checked it is a draft. Each line that
    closes a slice is priced again with the usage now known (minus what other invoices billed of
    the slice); on-demand lines are not: later windows and the close bill what arrives after
    them. Fee lines do not depend on events. usage_read_at becomes `at`.
    """
    entries = [
        entry
        for entry in LedgerEntry.objects.filter(invoice=invoice).select_related("line")
        if entry.line.breakdown.get("final")
    ]
    invoice.usage_read_at = at
    changed = _reprice(invoice, entries) if entries else []
    if not changed:
        invoice.save(update_fields=["usage_read_at", "updated_at"])
        return False
    InvoiceLine.objects.bulk_update(
        [entry.line for entry in changed], ["amount", "quantity", "breakdown"]
    )
    LedgerEntry.objects.bulk_update(changed, ["quantity", "event_count", "owed", "amount"])
    invoice_recompute_totals(invoice=invoice)
    invoice.save(update_fields=[*TOTAL_FIELDS, *ADJUSTMENT_FIELDS, "usage_read_at", "updated_at"])
    return True


def invoice_recompute_totals(*, invoice: Invoice) -> None:
    """A draft's totals, taxes, coupons and line discounts computed again from its saved lines
    (the caller saves the invoice's fields; lines and coupon rows are written here)."""
    lines = list(invoice.lines.all())
    subscription = invoice.subscription
    totals = draft_totals(
        lines=lines,
        customer=invoice.customer,
        currency=invoice.currency,
        subscription=subscription,
        kind=invoice.kind,
        invoice_id=invoice.pk,
    )
    for name, value in totals_fields(totals).items():
        setattr(invoice, name, value)
    for line, discount in zip(lines, totals.line_discounts, strict=True):
        line.discount = discount
    InvoiceLine.objects.bulk_update(lines, ["discount"])
    InvoiceDiscount.objects.filter(invoice=invoice).delete()
    InvoiceDiscount.objects.bulk_create(_discount_rows(invoice, totals))


def _reprice(invoice: Invoice, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The entries (and their lines) whose price changed, updated in memory."""
    subscription = _with_phases(invoice.subscription_id)
    ctx = BuildContext()
    changed = []
    for entry in entries:
        owed = entry_owed(entry=entry, subscription=subscription, ctx=ctx, final=True)
        fresh = ledger_line(owed, billed_before(owed, ctx, excluding_line=entry.line_id))
        line = entry.line
        if (fresh.amount, fresh.quantity, fresh.breakdown) == (
            line.amount,
            line.quantity,
            line.breakdown,
        ):
            continue
        line.amount, line.quantity, line.breakdown = fresh.amount, fresh.quantity, fresh.breakdown
        entry.quantity, entry.event_count = owed.usage.quantity, owed.usage.event_count
        entry.owed, entry.amount = owed.amount, fresh.amount
        changed.append(entry)
    return changed
