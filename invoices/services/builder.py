"""The invoice builder: what a subscription owes for a span of time, computed and never saved.

One builder serves the cycle close, its dry run and the upcoming-invoice preview. It is handed a
`Timeline` of the period (the period, its slices per plan version, whether it is the trial) and
prices usage only through the charge ledger (invoices.services.ledger). Billing rules:

- Period close (kind "subscription", period = the closed period): for each slice not yet billed,
  each charge of the slice's plan bills what the ledger says it still owes (in-arrears charges
  always show a line, also at 0.00; on-demand charges only a remainder: a minimum true-up or
  usage not invoiced yet) and, for an in-arrears plan, its base fee × the slice's share of the
  full period; plus the NEXT period's base fee when the plan in effect then bills in advance
  (and the setup fee when that period is the first paid one after a trial). A period cut short
  (immediate cancel, end date) credits the unused share of the fee billed in advance for it.
- Opening (period [started_at, started_at)): the first period's in-advance fee (prorated for a
  calendar anchor) and the setup fee. A subscription that starts with a trial has none: no fee
  during a trial, the fee starts with the first paid period.
- Phase change (an upgrade inside a period, period [billed_from, change_at)): the old plan's
  slice closed (its usage with its share of the minimum and cap) and in-arrears fee up to the
  change, a credit of the unused share of its in-advance fee, and the new plan's in-advance fee
  for the rest of the period.
- A plan change exactly at a period's start, recorded after that period's fee was billed in
  advance on the old plan (a backdated change, or one at the very start of a subscription):
  the period's first invoice credits the old prepaid fee and charges the new plan's in-advance
  fee for the span up to the next change or the period's end.
- Every line is rounded once, half-up, to the currency (rating.round_money).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from catalog.currencies import currency_exponent
from catalog.models import BaseTiming, Plan
from customers.models import Subscription
from customers.selectors import (
    PhaseSlice,
    subscription_period_at,
    subscription_period_for,
    subscription_phases_for_period,
    subscription_plan_at,
)
from invoices.models import InvoiceKind, LineKind
from invoices.services.drafts import (
    DraftLine,
    InvoiceDraft,
    draft_make,
    quantity_text,
    window_text,
)
from invoices.services.inputs import BuildContext, PrepaidFee, prepaid_covering
from invoices.services.ledger import Owed, billed_before, charge_owed, ledger_line
from rating import Period, prorate, round_money, seconds_between
from rating.money import DIVISION, decimal_string

ZERO = Decimal("0")


def is_trial(*, subscription: Subscription, period: Period) -> bool:
    """Whether `period` is the subscription's trial (a period of its own, without fees)."""
    trial_ends_at = subscription.trial_ends_at
    return trial_ends_at is not None and period.start < trial_ends_at


@dataclass(frozen=True)
class Timeline:
    """One billing period as the builder reads it, computed once: the period (with its full
    bounds, for proration), its slices per plan version over [start, end), and whether it is
    the trial."""

    period: Period
    slices: list[PhaseSlice]
    trial: bool


def timeline_of(
    *, subscription: Subscription, cycle_start: datetime, start: datetime, end: datetime
) -> Timeline:
    """The timeline of the period starting at `cycle_start`, sliced over [start, end)."""
    period = subscription_period_for(subscription=subscription, period_start=cycle_start)
    slices = []
    if start < end:
        slices = subscription_phases_for_period(
            subscription=subscription, period_start=start, period_end=end
        )
    return Timeline(
        period=period, slices=slices, trial=is_trial(subscription=subscription, period=period)
    )


def entry_owed(*, entry, subscription: Subscription, ctx: BuildContext, final: bool) -> Owed:
    """What the slice of a stored LedgerEntry owes now, with the usage up to the entry's end:
    the re-pricing of a draft in grace and of verify_invoices."""
    timeline = timeline_of(
        subscription=subscription,
        cycle_start=entry.period_start,
        start=entry.slice_start,
        end=entry.slice_end,
    )
    piece = timeline.slices[0]
    priced = next(p for p in ctx.plans.charges(piece.plan) if p.charge.pk == entry.charge_id)
    return charge_owed(
        subscription=subscription,
        period_start=entry.period_start,
        piece=piece,
        priced=priced,
        until=entry.usage_until,
        ctx=ctx,
        trial=timeline.trial,
        final=final,
    )


def opening_needed(*, subscription: Subscription) -> bool:
    """Whether the subscription starts with an opening invoice (see the module docstring)."""
    first = subscription_period_at(subscription=subscription, at=subscription.started_at)
    if first is None or is_trial(subscription=subscription, period=first):
        return False  # stopped at its very start, or a trial: no fee to open with
    plan = subscription_plan_at(subscription=subscription, at=subscription.started_at)
    return _bills_in_advance(plan) or plan.setup_amount > 0


def build_opening(*, subscription: Subscription, ctx: BuildContext) -> InvoiceDraft | None:
    """The opening invoice, or None when the subscription has no fee due at its start."""
    if not opening_needed(subscription=subscription):
        return None
    first = subscription_period_for(subscription=subscription, period_start=subscription.started_at)
    plan = subscription_plan_at(subscription=subscription, at=subscription.started_at)
    lines = _advance_lines(plan, first, with_setup=True)
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=subscription.started_at,
        period_end=subscription.started_at,
        lines=lines,
    )


def build_phase_change(
    *,
    subscription: Subscription,
    cycle_start: datetime,
    billed_from: datetime,
    change_at: datetime,
    ctx: BuildContext,
) -> InvoiceDraft:
    """The invoice billing [billed_from, change_at) at once: the plan changed at change_at."""
    timeline = timeline_of(
        subscription=subscription, cycle_start=cycle_start, start=billed_from, end=change_at
    )
    period, trial, slices = timeline.period, timeline.trial, timeline.slices
    lines = _slice_lines(subscription, timeline, ctx=ctx, usage_until=None)
    if not trial and billed_from == cycle_start:
        lines[:0] = _change_at_start_lines(subscription, ctx, period=period, until=change_at)
    if not trial:
        old_plan = slices[-1].plan
        prepaid = prepaid_covering(ctx.prepaid_fees(subscription), plan=old_plan, moment=change_at)
        if prepaid is not None:
            lines.append(_credit_line(old_plan, prepaid, moment=change_at))
        new_plan = subscription_plan_at(subscription=subscription, at=change_at)
        if _bills_in_advance(new_plan) and change_at < period.end:
            lines.append(
                _fee_line(
                    new_plan,
                    kind=LineKind.PRORATION_CHARGE,
                    start=change_at,
                    end=period.end,
                    period=period,
                    description=f"{new_plan.name} fee for the rest of the period, "
                    f"{window_text(change_at, period.end)}",
                )
            )
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=billed_from,
        period_end=change_at,
        lines=lines,
    )


def build_period_close(
    *,
    subscription: Subscription,
    cycle_start: datetime,
    period_end: datetime,
    billed_from: datetime,
    ctx: BuildContext,
    usage_until: datetime | None = None,
) -> InvoiceDraft:
    """The invoice closing [cycle_start, period_end); slices before billed_from were billed.

    usage_until (the preview): usage is counted up to that moment only.
    """
    timeline = timeline_of(
        subscription=subscription, cycle_start=cycle_start, start=billed_from, end=period_end
    )
    period, trial, slices = timeline.period, timeline.trial, timeline.slices
    lines = _slice_lines(subscription, timeline, ctx=ctx, usage_until=usage_until)
    if slices and not trial and billed_from == cycle_start:
        lines[:0] = _change_at_start_lines(subscription, ctx, period=period, until=period_end)
    if slices and not trial and period_end < period.full_end:
        # Cut short (canceled now, or an end date): credit what was billed in advance past it.
        prepaid = prepaid_covering(
            ctx.prepaid_fees(subscription), plan=slices[-1].plan, moment=period_end
        )
        if prepaid is not None:
            lines.append(_credit_line(slices[-1].plan, prepaid, moment=period_end))
    following = subscription_period_at(subscription=subscription, at=period_end)
    if following is not None and not is_trial(subscription=subscription, period=following):
        plan = subscription_plan_at(subscription=subscription, at=following.start)
        first_paid = subscription.trial_ends_at == following.start
        lines.extend(_advance_lines(plan, following, with_setup=first_paid))
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=cycle_start,
        period_end=period_end,
        lines=lines,
    )


# --- lines ---------------------------------------------------------------------------------------


def _bills_in_advance(plan: Plan) -> bool:
    return plan.base_timing == BaseTiming.IN_ADVANCE and plan.base_amount > 0


def _slice_lines(
    subscription: Subscription, timeline: Timeline, *, ctx: BuildContext, usage_until
) -> list[DraftLine]:
    """Each slice closed: its charges' usage lines from the ledger, then its in-arrears fee (none
    during a trial). usage_until (the preview): usage is counted up to that moment only."""
    lines: list[DraftLine] = []
    period, slices = timeline.period, timeline.slices
    several = len(slices) > 1 or (
        bool(slices) and (slices[0].start, slices[0].end) != (period.start, period.end)
    )
    for piece in slices:
        suffix = f" ({piece.plan.name}, {window_text(piece.start, piece.end)})" if several else ""
        until = piece.end if usage_until is None else min(piece.end, usage_until)
        for priced in ctx.plans.charges(piece.plan):
            owed = charge_owed(
                subscription=subscription,
                period_start=period.start,
                piece=piece,
                priced=priced,
                until=until,
                ctx=ctx,
                trial=timeline.trial,
                final=True,
            )
            before = billed_before(owed, ctx)
            if priced.is_on_demand and owed.amount == before.amount:
                continue  # billed in full by the on-demand invoices
            lines.append(ledger_line(owed, before, suffix=suffix))
        plan = piece.plan
        if (
            not timeline.trial
            and plan.base_timing == BaseTiming.IN_ARREARS
            and plan.base_amount > 0
        ):
            lines.append(
                _fee_line(
                    plan,
                    kind=LineKind.BASE_FEE,
                    start=piece.start,
                    end=piece.end,
                    period=period,
                    description=f"{plan.name} fee, {window_text(piece.start, piece.end)}",
                )
            )
    return lines


def _advance_lines(plan: Plan, period: Period, *, with_setup: bool) -> list[DraftLine]:
    """The period's fee billed in advance (prorated to its share) and the setup fee."""
    lines = []
    if _bills_in_advance(plan):
        lines.append(
            _fee_line(
                plan,
                kind=LineKind.BASE_FEE,
                start=period.start,
                end=period.end,
                period=period,
                description=f"{plan.name} fee, {window_text(period.start, period.end)} "
                "(in advance)",
            )
        )
    if with_setup and plan.setup_amount > 0:
        lines.append(
            DraftLine(
                kind=LineKind.SETUP_FEE,
                description=f"{plan.name} setup fee",
                amount=round_money(plan.setup_amount, exponent=currency_exponent(plan.currency)),
                quantity=Decimal("1"),
                unit_amount=plan.setup_amount,
                plan=plan,
                breakdown={"exact_amount": decimal_string(plan.setup_amount)},
            )
        )
    return lines


def _fee_line(
    plan: Plan, *, kind: str, start: datetime, end: datetime, period: Period, description: str
) -> DraftLine:
    """The plan's base fee for [start, end): fee × seconds / seconds of the full period."""
    part = seconds_between(start, end)
    whole = seconds_between(period.full_start, period.full_end)
    exact = prorate(plan.base_amount, part_seconds=part, whole_seconds=whole)
    with localcontext(DIVISION):
        fraction = part / whole
    return DraftLine(
        kind=kind,
        description=description,
        amount=round_money(exact, exponent=currency_exponent(plan.currency)),
        quantity=quantity_text(fraction),
        unit_amount=plan.base_amount,
        plan=plan,
        breakdown={
            "timing": plan.base_timing,
            "fraction": decimal_string(fraction),
            "seconds": decimal_string(part),
            "period_seconds": decimal_string(whole),
            "exact_amount": decimal_string(exact),
        },
        usage_start=start,
        usage_end=end,
    )


def _change_at_start_lines(
    subscription: Subscription, ctx: BuildContext, *, period: Period, until: datetime
) -> list[DraftLine]:
    """Trade a fee prepaid on another plan for the plan in effect at the period's start.

    Normally the fee billed in advance for a period is already the plan in effect at its start
    (a downgrade is known before the previous period closes). A change recorded later but
    effective at that very start finds the old plan's fee prepaid: credit it, and charge the
    new plan's in-advance fee for [period start, until).
    """
    prepaid = max(
        (fee for fee in ctx.prepaid_fees(subscription) if fee.start <= period.start < fee.end),
        key=lambda fee: fee.start,
        default=None,
    )
    plan_now = subscription_plan_at(subscription=subscription, at=period.start)
    if prepaid is None or prepaid.plan_id == plan_now.pk:
        return []
    lines = [_credit_line(Plan.objects.get(pk=prepaid.plan_id), prepaid, moment=period.start)]
    if _bills_in_advance(plan_now) and period.start < until:
        lines.append(
            _fee_line(
                plan_now,
                kind=LineKind.PRORATION_CHARGE,
                start=period.start,
                end=until,
                period=period,
                description=f"{plan_now.name} fee for the rest of the period, "
                f"{window_text(period.start, until)}",
            )
        )
    return lines


def _credit_line(plan: Plan, prepaid: PrepaidFee, *, moment: datetime) -> DraftLine:
    """Credit of the fee billed in advance for [moment, prepaid.end), at the rate it was billed."""
    part = seconds_between(moment, prepaid.end)
    exact = -prorate(prepaid.unit_amount, part_seconds=part, whole_seconds=prepaid.period_seconds)
    with localcontext(DIVISION):
        fraction = part / prepaid.period_seconds
    return DraftLine(
        kind=LineKind.PRORATION_CREDIT,
        description=f"Unused {plan.name} fee, {window_text(moment, prepaid.end)}",
        amount=round_money(exact, exponent=currency_exponent(plan.currency)),
        quantity=-quantity_text(fraction),
        unit_amount=prepaid.unit_amount,
        plan=plan,
        breakdown={
            "timing": plan.base_timing,
            "fraction": decimal_string(fraction),
            "seconds": decimal_string(part),
            "period_seconds": decimal_string(prepaid.period_seconds),
            "exact_amount": decimal_string(exact),
        },
        usage_start=moment,
        usage_end=prepaid.end,
    )
