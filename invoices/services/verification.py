"""Self-verifying invoices: every issued invoice's usage lines recomputed from the raw events and
the ledger, independently of the stored figures; drift is reported, never absorbed.

For each ledger entry of an invoice the charge's slice is priced again through the same ledger
function (invoices.services.ledger.charge_owed), with the usage the raw events give now over the
entry's window, less what the ledger's earlier entries of the slice billed. A line whose stored
quantity or amount differs is drift: the report names the line, the expected and the stored
figures, the window, and how many of the window's events arrived after the invoice read its
usage (late events explain most drift: they are kept, flagged and billed by a correction, not by
changing an issued invoice). An invoice without drift gets `verified_at`.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch

from customers.models import Subscription, SubscriptionPhase
from invoices.models import Invoice, InvoiceStatus, LedgerEntry
from invoices.services.builder import entry_owed
from invoices.services.inputs import BuildContext
from metering.selectors import events_for_usage
from rating.money import decimal_string

ISSUED = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
BATCH = 500


@dataclass
class VerificationReport:
    """What one run checked: invoices verified, and those with drift (invoice, drift rows)."""

    at: datetime
    checked: int = 0
    verified: int = 0
    drifted: list[tuple[Invoice, list[dict]]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"Verified {self.checked} invoice(s) at {self.at.isoformat()}: {self.verified} match "
            f"their events and ledger, {len(self.drifted)} with drift."
        )


def invoice_drift(
    *, invoice: Invoice, ctx: BuildContext, subscription=None, entries=None
) -> list[dict]:
    """The drift rows of one invoice (empty when every usage line matches); writes nothing.

    `entries`: the invoice's ledger entries with their lines, when the caller read them ahead.
    """
    if entries is None:
        entries = list(
            LedgerEntry.objects.filter(invoice=invoice)
            .select_related("line")
            .order_by("line__position")
        )
    if not entries:
        return []
    subscription = subscription or _with_phases(invoice.subscription_id)
    drift = []
    for entry in entries:
        final = bool(entry.line.breakdown.get("final", True))
        owed = entry_owed(entry=entry, subscription=subscription, ctx=ctx, final=final)
        priced = owed.priced
        earlier = [
            billed
            for billed in ctx.billed.entries(owed.key)
            if (billed.usage_until, billed.line_id or 0) < (entry.usage_until, entry.line_id)
        ]
        billed = sum((row.amount for row in earlier), Decimal("0"))
        quantity_before = earlier[-1].quantity if earlier else Decimal("0")
        expected_amount = owed.amount - billed
        expected_quantity = owed.usage.quantity - quantity_before
        line = entry.line
        if (expected_amount, expected_quantity) != (line.amount, line.quantity):
            late = (
                events_for_usage(
                    meter=priced.meter,
                    external_customer_id=subscription.customer.external_id,
                    start=owed.window_start,
                    end=owed.until,
                )
                .filter(received_at__gt=invoice.usage_read_at or invoice.issued_at)
                .count()
            )
            drift.append(
                {
                    "line": line.pk,
                    "description": line.description,
                    "expected_amount": decimal_string(expected_amount),
                    "stored_amount": decimal_string(line.amount),
                    "expected_quantity": decimal_string(expected_quantity),
                    "stored_quantity": decimal_string(line.quantity),
                    "window_start": owed.window_start.isoformat(),
                    "window_end": owed.until.isoformat(),
                    "late_events": late,
                }
            )
    return drift


def invoices_verify(*, at: datetime, since: datetime | None = None) -> VerificationReport:
    """Verify every issued subscription/on-demand invoice (issued at or after `since`)."""
    report = VerificationReport(at=at)
    invoices = Invoice.objects.filter(status__in=ISSUED, subscription__isnull=False)
    if since is not None:
        invoices = invoices.filter(issued_at__gte=since)
    ids = list(invoices.order_by("pk").values_list("pk", flat=True))
    for offset in range(0, len(ids), BATCH):
        ctx = BuildContext()
        batch = list(
            Invoice.objects.filter(pk__in=ids[offset : offset + BATCH])
            .select_related("customer")
            .order_by("pk")
        )
        subscriptions = {
            subscription.pk: subscription
            for subscription in _subscriptions({invoice.subscription_id for invoice in batch})
        }
        entries: dict[int, list[LedgerEntry]] = {invoice.pk: [] for invoice in batch}
        for entry in (
            LedgerEntry.objects.filter(invoice__in=batch)
            .select_related("line")
            .order_by("invoice_id", "line__position")
        ):
            entries[entry.invoice_id].append(entry)
        # What the ledger billed of those periods, in one query.
        ctx.billed.prime(
            (entry.subscription_id, entry.period_start)
            for rows in entries.values()
            for entry in rows
        )
        verified, drifted = [], []
        for invoice in batch:
            drift = invoice_drift(
                invoice=invoice,
                ctx=ctx,
                subscription=subscriptions[invoice.subscription_id],
                entries=entries[invoice.pk],
            )
            (drifted if drift else verified).append((invoice, drift))
        with transaction.atomic():
            Invoice.objects.filter(pk__in=[invoice.pk for invoice, _ in verified]).update(
                verified_at=at, verification_drift=[]
            )
            for invoice, drift in drifted:
                Invoice.objects.filter(pk=invoice.pk).update(
                    verified_at=None, verification_drift=drift
                )
        report.checked += len(batch)
        report.verified += len(verified)
        report.drifted += drifted
    return report


def _subscriptions(ids) -> list[Subscription]:
    return list(
        Subscription.objects.filter(pk__in=ids)
        .select_related("customer", "plan")
        .prefetch_related(
            Prefetch("phases", queryset=SubscriptionPhase.objects.select_related("plan"))
        )
    )


def _with_phases(subscription_id: int) -> Subscription:
    return _subscriptions([subscription_id])[0]
