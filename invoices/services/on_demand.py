"""On-demand charges: the usage of the current period invoiced every hour or day as it grows.

A charge with cadence "on_demand" is invoiced in windows aligned on calendar hours or days
(settings.ON_DEMAND_BILLING: "hourly" or "daily"). Each closed window [w_start, w_end) yields at
most one invoice of kind "on_demand" (period = the window) with, per on-demand charge of each
slice of the current period, round(what the charge owes with the usage up to w_end) − what was
billed of the slice so far: the charge ledger (invoices.services.ledger), without the minimum,
which the period's close trues up. A difference of zero (no new usage, a sub-cent increment not
yet worth a cent, a cap reached) issues no invoice; a negative one (a volume tier that made the
total cheaper) waits for the close. The close bills the remainder, so the sum of a period's
invoices equals its price rounded once.

Windows with usage after the last on-demand invoice are billed in order, and the last closed
window also when usage arrived late for an earlier one: late usage is simply part of the next
difference, never lost nor billed twice. Periods already closed are never billed here again.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Trunc

from catalog.models import Cadence
from customers.models import Subscription, SubscriptionPhase
from invoices.models import Invoice, InvoiceKind
from invoices.services.builder import timeline_of
from invoices.services.drafts import InvoiceDraft, draft_make
from invoices.services.inputs import Billed, BuildContext
from invoices.services.ledger import billed_before, charge_owed, ledger_line
from invoices.services.steps import BillingState, billing_state
from metering.selectors import events_for_usage
from rating import add_interval, calendar_floor

WINDOW_UNITS = {"hourly": "hour", "daily": "day"}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def on_demand_unit() -> str:
    """ "hour" or "day", from settings.ON_DEMAND_BILLING."""
    try:
        return WINDOW_UNITS[settings.ON_DEMAND_BILLING]
    except KeyError:
        raise ImproperlyConfigured(
            f"ON_DEMAND_BILLING must be one of {', '.join(WINDOW_UNITS)}, "
            f"not {settings.ON_DEMAND_BILLING!r}."
        ) from None


def on_demand_subscription_ids(*, at: datetime) -> list[int]:
    """Subscriptions with an on-demand phase that may have usage not invoiced yet."""
    last_end = Subquery(
        Invoice.objects.filter(
            subscription_id=OuterRef("subscription_id"), kind=InvoiceKind.ON_DEMAND
        )
        .order_by("-period_end")
        .values("period_end")[:1]
    )
    phases = (
        SubscriptionPhase.objects.filter(
            plan__charges__cadence=Cadence.ON_DEMAND,
            starts_at__lt=at,
            subscription__current_period_start__isnull=False,
        )
        .annotate(last_end=last_end)
        .filter(Q(ends_at__isnull=True) | Q(last_end__isnull=True) | Q(ends_at__gt=F("last_end")))
    )
    return sorted(set(phases.values_list("subscription_id", flat=True)))


def on_demand_billed_until(*, subscription: Subscription) -> datetime | None:
    """The end of the last on-demand window invoiced, or None."""
    return (
        Invoice.objects.filter(subscription=subscription, kind=InvoiceKind.ON_DEMAND)
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )


def on_demand_windows_due(
    *, subscription: Subscription, state: BillingState, at: datetime, ctx: BuildContext
) -> list[Window]:
    """The closed windows of the current period worth a look, in time order: those with usage
    after the last on-demand invoice, and the last closed one (late usage shows up there)."""
    if state.cycle_start is None:
        return []
    unit = on_demand_unit()
    horizon = calendar_floor(at, interval=unit)  # windows starting before it have ended
    since = on_demand_billed_until(subscription=subscription)
    low = state.billed_from if since is None else max(state.billed_from, since)
    high = min(horizon, state.cycle_end)
    starts: set[datetime] = set()
    customer_id = subscription.customer.external_id
    meters = {}
    for piece in timeline_of(
        subscription=subscription,
        cycle_start=state.cycle_start,
        start=state.billed_from,
        end=state.cycle_end,
    ).slices:
        for priced in ctx.plans.charges(piece.plan):
            if priced.is_on_demand:
                meters[priced.meter.pk] = priced.meter
    if not meters:
        return []
    if low < high:
        for meter in meters.values():
            events = events_for_usage(
                meter=meter, external_customer_id=customer_id, start=low, end=high
            )
            window_starts = (
                events.order_by()
                .annotate(window=Trunc("timestamp", unit, tzinfo=UTC))
                .values_list("window", flat=True)
                .distinct()
            )
            starts.update(moment.astimezone(UTC) for moment in window_starts)
    last_closed = add_interval(horizon, interval=unit, count=-1)
    if state.billed_from < horizon and (since is None or since <= last_closed):
        starts.add(max(last_closed, calendar_floor(state.billed_from, interval=unit)))
    return [Window(start, add_interval(start, interval=unit)) for start in sorted(starts)]


def build_on_demand_window(
    *, subscription: Subscription, state: BillingState, window: Window, ctx: BuildContext
) -> InvoiceDraft | None:
    """The on-demand invoice of the window, or None when no charge owes more than was billed."""
    if min(window.end, state.cycle_end) <= state.billed_from:
        return None
    # The slices of the whole period: each keeps its share of the free units, minimum and cap.
    timeline = timeline_of(
        subscription=subscription,
        cycle_start=state.cycle_start,
        start=state.billed_from,
        end=state.cycle_end,
    )
    lines = []
    for piece in timeline.slices:
        if piece.start >= window.end:
            continue
        for priced in ctx.plans.charges(piece.plan):
            if not priced.is_on_demand:
                continue
            owed = charge_owed(
                subscription=subscription,
                period_start=timeline.period.start,
                piece=piece,
                priced=priced,
                until=min(window.end, piece.end),
                ctx=ctx,
                trial=timeline.trial,
                final=False,
            )
            before = billed_before(owed, ctx)
            if owed.amount > before.amount:
                lines.append(ledger_line(owed, before))
    if not lines:
        return None
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.ON_DEMAND,
        period_start=window.start,
        period_end=window.end,
        lines=lines,
    )


def on_demand_drafts(
    *, subscription: Subscription, at: datetime, ctx: BuildContext
) -> Iterator[InvoiceDraft]:
    """The on-demand invoices due at `at`, in order: one loop for the close and its dry run.

    Each draft's lines are recorded in ctx.billed as they are built, so the next window bills
    only what comes after; the close saves the drafts, the dry run does not.
    """
    state = billing_state(subscription=subscription)
    for window in on_demand_windows_due(subscription=subscription, state=state, at=at, ctx=ctx):
        draft = build_on_demand_window(
            subscription=subscription, state=state, window=window, ctx=ctx
        )
        if draft is not None:
            ledger_record(draft=draft, ctx=ctx)
            yield draft


def ledger_record(*, draft: InvoiceDraft, ctx: BuildContext) -> None:
    """Count a computed invoice's usage lines as billed in `ctx` (a dry run, or the loop above
    before the close saves them)."""
    for line in draft.lines:
        owed = line.owed
        if owed is not None:
            ctx.billed.add(
                owed.key,
                Billed(owed.until, owed.usage.quantity, owed.usage.event_count, line.amount),
            )
