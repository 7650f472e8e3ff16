"""Saving a computed invoice, and refreshing a draft's usage lines as late events arrive.

Grace period: an invoice with usage lines is saved as a draft until grace_until = period end +
the customer's invoice_grace_period_hours; the close refreshes it on each run and finalizes it
once grace_until <= at (at once when the grace is 0, or when it already passed: a catch-up).
An invoice without usage (an opening fee) has nothing to wait for and is finalized at once.
"""

from datetime import datetime, timedelta

from catalog.currencies import currency_exponent
from catalog.models import Charge
from catalog.selectors import charge_spec
from invoices.documents import invoice_on_finalized
from invoices.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from invoices.services.builder import rated_usage
from invoices.services.drafts import InvoiceDraft, draft_totals
from invoices.services.numbering import finalization_fields, invoice_numbers_take
from invoices.services.on_demand import rated_increment
from metering.selectors import Usage, usage_for_period
from rating.money import to_decimal

TOTAL_FIELDS = ("subtotal", "discount", "tax", "total", "credits_applied", "amount_due")


def invoice_create_from_draft(*, draft: InvoiceDraft, at: datetime) -> Invoice:
    """Save one computed invoice (see invoices_create_from_drafts)."""
    return invoices_create_from_drafts(drafts=[draft], at=at)[0]


def invoices_create_from_drafts(*, drafts: list[InvoiceDraft], at: datetime) -> list[Invoice]:
    """Save computed invoices and their lines; those whose grace is over are finalized at once.

    Call inside the close's transaction: finalized invoices are numbered (in order) and handed
    to the documents (PDF, email) in it. Three statements whatever the number of invoices.
    """
    graces = [_grace_until(draft, at) for draft in drafts]
    finals = [grace_until <= at for grace_until in graces]
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
                **{name: getattr(draft.totals, name) for name in TOTAL_FIELDS},
            )
        )
    Invoice.objects.bulk_create(invoices)
    InvoiceLine.objects.bulk_create(
        _line_row(invoice, line)
        for invoice, draft in zip(invoices, drafts, strict=True)
        for line in draft.lines
    )
    for invoice, final in zip(invoices, finals, strict=True):
        if final:
            invoice_on_finalized(invoice=invoice)
    return invoices


def _grace_until(draft: InvoiceDraft, at: datetime) -> datetime:
    """Period end + the customer's grace when the invoice bills usage; else `at` (no wait)."""
    has_usage = any(line.kind == LineKind.USAGE for line in draft.lines)
    if not has_usage or draft.period_end is None:
        return at
    return draft.period_end + timedelta(hours=draft.customer.invoice_grace_period_hours)


def _line_row(invoice: Invoice, line) -> InvoiceLine:
    return InvoiceLine(
        invoice=invoice,
        position=line.position,
        kind=line.kind,
        description=line.description[:300],
        plan=line.plan,
        charge=line.charge,
        meter=line.meter,
        quantity=line.quantity,
        unit_amount=line.unit_amount,
        amount=line.amount,
        breakdown=line.breakdown,
        usage_start=line.usage_start,
        usage_end=line.usage_end,
    )


def invoice_refresh_usage(*, invoice: Invoice, at: datetime) -> bool:
    """Re-read and re-rate a draft's usage lines over their windows; True when anything changed.

    The caller holds the invoice's row lock and has checked it is a draft. Fee lines do not
    depend on events and stay as they are. usage_read_at becomes `at`.
    """
    lines = list(
        invoice.lines.filter(kind=LineKind.USAGE, charge__isnull=False, meter__isnull=False)
        .select_related("meter")
        .prefetch_related("charge__tiers")
    )
    invoice.usage_read_at = at
    if not lines:
        invoice.save(update_fields=["usage_read_at", "updated_at"])
        return False
    exponent = currency_exponent(invoice.currency)
    customer_id = invoice.customer.external_id
    changed = []
    for line in lines:
        amount, quantity, breakdown = _rerated(line, line.charge, customer_id, exponent)
        if (amount, quantity, breakdown) != (line.amount, line.quantity, line.breakdown):
            line.amount, line.quantity, line.breakdown = amount, quantity, breakdown
            changed.append(line)
    if not changed:
        invoice.save(update_fields=["usage_read_at", "updated_at"])
        return False
    InvoiceLine.objects.bulk_update(changed, ["amount", "quantity", "breakdown"])
    totals = draft_totals(
        lines=list(invoice.lines.all()), customer=invoice.customer, currency=invoice.currency
    )
    for name in TOTAL_FIELDS:
        setattr(invoice, name, getattr(totals, name))
    invoice.save(update_fields=[*TOTAL_FIELDS, "usage_read_at", "updated_at"])
    return True


def _rerated(line: InvoiceLine, charge: Charge, customer_id: str, exponent: int):
    spec = charge_spec(charge=charge)
    meter = line.meter

    def usage(start, end) -> Usage:
        if end <= start:
            return Usage(quantity=to_decimal("0"), event_count=0)
        return usage_for_period(meter=meter, external_customer_id=customer_id, start=start, end=end)

    cumulative_from = line.breakdown.get("cumulative_from")
    if cumulative_from:
        # An on-demand line: the increment of the phase's cumulative usage over its window.
        origin = _moment(cumulative_from)
        before, after = usage(origin, line.usage_start), usage(origin, line.usage_end)
        amount, breakdown = rated_increment(spec, before=before, after=after, exponent=exponent)
        breakdown["cumulative_from"] = cumulative_from
        return amount, after.quantity - before.quantity, breakdown
    current = usage(line.usage_start, line.usage_end)
    amount, breakdown = rated_usage(spec, current, exponent=exponent)
    return amount, current.quantity, breakdown


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
