"""The order in which a subscription's invoices fall due: opening, phase changes, period closes.

`next_step` reads a `BillingState` (what is billed so far) and says what to invoice next at
`at`; `state_after` is the state once that step is billed, without writing, so the dry run
and the real close walk the same steps in the same order:

1. the opening invoice, when the subscription needs one and has none;
2. each plan change strictly inside the current period, in time order, once it happened
   (an upgrade is billed at once: the slice before it on the old plan);
3. the current period, once it ended (then the subscription moves to its next period).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from django.db.models import F, Max

from customers.models import Subscription
from customers.selectors import period_after, subscription_phases
from invoices.models import Invoice, InvoiceKind
from invoices.services.builder import (
    build_opening,
    build_period_close,
    build_phase_change,
    opening_needed,
)
from invoices.services.drafts import InvoiceDraft
from invoices.services.inputs import BuildContext


class StepKind(StrEnum):
    OPENING = "opening"
    PHASE_CHANGE = "phase_change"
    PERIOD_CLOSE = "period_close"


@dataclass(frozen=True)
class BillingState:
    """What is billed: the opening invoice, and the current (first unbilled) period from where."""

    opening_billed: bool
    cycle_start: datetime | None
    cycle_end: datetime | None
    billed_from: datetime | None


@dataclass(frozen=True)
class Step:
    """One invoice to issue: its kind of step and the invoice's period."""

    kind: StepKind
    period_start: datetime
    period_end: datetime
    cycle_start: datetime | None = None
    billed_from: datetime | None = None


def billing_state(*, subscription: Subscription) -> BillingState:
    """The subscription's billing state as its row and its invoices record it."""
    opening_billed = True
    if opening_needed(subscription=subscription):
        opening_billed = Invoice.objects.filter(
            subscription=subscription,
            kind=InvoiceKind.SUBSCRIPTION,
            period_start=subscription.started_at,
            period_end=subscription.started_at,
        ).exists()
    cycle_start, cycle_end = subscription.current_period_start, subscription.current_period_end
    billed_from = cycle_start
    if cycle_start is not None and _changes_inside(subscription, cycle_start, cycle_end):
        # Plan changes inside this period were billed at once, up to the latest of them.
        latest = Invoice.objects.filter(
            subscription=subscription,
            kind=InvoiceKind.SUBSCRIPTION,
            period_start__gte=cycle_start,
            period_end__gt=F("period_start"),
            period_end__lt=cycle_end,
        ).aggregate(latest=Max("period_end"))["latest"]
        if latest is not None:
            billed_from = max(billed_from, latest)
    return BillingState(
        opening_billed=opening_billed,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        billed_from=billed_from,
    )


def next_step(*, subscription: Subscription, state: BillingState, at: datetime) -> Step | None:
    """The next invoice due at `at`, or None when the subscription is billed up to `at`."""
    if not state.opening_billed:
        started_at = subscription.started_at
        return Step(kind=StepKind.OPENING, period_start=started_at, period_end=started_at)
    if state.cycle_start is None:
        return None
    changes = _changes_inside(subscription, state.billed_from, state.cycle_end)
    if changes and changes[0] <= at:
        return Step(
            kind=StepKind.PHASE_CHANGE,
            period_start=state.billed_from,
            period_end=changes[0],
            cycle_start=state.cycle_start,
            billed_from=state.billed_from,
        )
    if state.cycle_end <= at:
        return Step(
            kind=StepKind.PERIOD_CLOSE,
            period_start=state.cycle_start,
            period_end=state.cycle_end,
            cycle_start=state.cycle_start,
            billed_from=state.billed_from,
        )
    return None


def state_after(*, subscription: Subscription, state: BillingState, step: Step) -> BillingState:
    """The state once `step` is billed (what subscription_advance_period will make of it)."""
    if step.kind == StepKind.OPENING:
        return replace(state, opening_billed=True)
    if step.kind == StepKind.PHASE_CHANGE:
        return replace(state, billed_from=step.period_end)
    following = period_after(
        subscription=subscription,
        phases=subscription_phases(subscription=subscription),
        boundary=step.period_end,
    )
    if following is None:
        return replace(state, cycle_start=None, cycle_end=None, billed_from=None)
    return replace(
        state, cycle_start=following.start, cycle_end=following.end, billed_from=following.start
    )


def step_build(
    *,
    subscription: Subscription,
    step: Step,
    ctx: BuildContext,
    usage_until: datetime | None = None,
) -> InvoiceDraft | None:
    """The invoice of one step, computed (never saved)."""
    if step.kind == StepKind.OPENING:
        return build_opening(subscription=subscription, ctx=ctx)
    if step.kind == StepKind.PHASE_CHANGE:
        return build_phase_change(
            subscription=subscription,
            cycle_start=step.cycle_start,
            billed_from=step.billed_from,
            change_at=step.period_end,
            ctx=ctx,
        )
    return build_period_close(
        subscription=subscription,
        cycle_start=step.cycle_start,
        period_end=step.period_end,
        billed_from=step.billed_from,
        ctx=ctx,
        usage_until=usage_until,
    )


def _changes_inside(subscription: Subscription, start: datetime, end: datetime) -> list[datetime]:
    """The moments strictly inside (start, end) where one phase ended, in time order."""
    return sorted(
        phase.ends_at
        for phase in subscription_phases(subscription=subscription)
        if phase.ends_at is not None and start < phase.ends_at < end
    )
