"""Subscription lifecycle: subscribe, change plan, cancel, and advance past a billed period.

The money of each step is not computed here: the cycle close reads the periods and phases
(customers.selectors) and bills them. Here the history is recorded so that it can.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from billing.errors import AppError
from catalog.models import Plan
from customers.models import (
    LIVE_STATUSES,
    BillingAnchor,
    Customer,
    PhaseReason,
    Subscription,
    SubscriptionPhase,
    SubscriptionStatus,
)
from customers.selectors import period_after, period_at, subscription_stop_at
from customers.signals import subscription_canceled, subscription_created, subscription_updated
from rating.errors import RatingError
from rating.periods import add_interval, annualized

# --- helpers -----------------------------------------------------------------------------------


# Bounds of the instants a subscription accepts (docs/api.md "Bounds"). A start may be
# backdated up to five years (as Stripe allows) and by at most MAX_BACKLOG_PERIODS of its plan,
# so one close never has thousands of past periods to issue; a plan change may be scheduled up
# to five years ahead.
MAX_BACKDATE = timedelta(days=5 * 365)
MAX_BACKLOG_PERIODS = 400
MAX_SCHEDULE_AHEAD = timedelta(days=5 * 365)


def _start_refusal(plan: Plan, started_at: datetime, at: datetime) -> str | None:
    earliest = at - MAX_BACKDATE
    periods = plan.interval_count * MAX_BACKLOG_PERIODS
    try:
        backlog_earliest = add_interval(at, interval=plan.interval, count=-periods)
    except RatingError:
        backlog_earliest = earliest
    if started_at < max(earliest, backlog_earliest):
        return (
            f"started_at may be backdated by at most 5 years and {MAX_BACKLOG_PERIODS} periods "
            f"of plan '{plan.code}': not before {_text(max(earliest, backlog_earliest))}."
        )
    return None


def _utc(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise ValidationError({name: f"{name} must be a date and time, not {moment!r}."})
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            {name: f"{name} must include a UTC offset (e.g. 2026-01-31T00:00:00Z)."}
        )
    return moment.astimezone(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _locked(subscription: Subscription) -> Subscription:
    """Lock the row for this transaction and re-read it into the caller's instance."""
    subscription.refresh_from_db(from_queryset=Subscription.objects.select_for_update())
    getattr(subscription, "_prefetched_objects_cache", {}).pop("phases", None)
    return subscription


def _load_phases(subscription: Subscription) -> list[SubscriptionPhase]:
    return list(
        SubscriptionPhase.objects.filter(subscription=subscription)
        .select_related("plan")
        .order_by("starts_at")
    )


def _drop_phases_from(
    phases: list[SubscriptionPhase], moment: datetime, *, inclusive: bool
) -> tuple[list[SubscriptionPhase], bool]:
    """Delete the phases that start after `moment` (or at it), reopening the one before them."""
    first, later = phases[0], phases[1:]
    kept = [first] + [
        phase
        for phase in later
        if (phase.starts_at < moment if inclusive else phase.starts_at <= moment)
    ]
    dropped = [phase.pk for phase in later if phase not in kept]
    if dropped:
        SubscriptionPhase.objects.filter(pk__in=dropped).delete()
        kept[-1].ends_at = None
        kept[-1].save(update_fields=["ends_at", "updated_at"])
    return kept, bool(dropped)


def _close_phases_at(phases: list[SubscriptionPhase], moment: datetime) -> list[SubscriptionPhase]:
    """History stops at `moment`: later phases go, the one in effect then is closed there."""
    kept, _ = _drop_phases_from(phases, moment, inclusive=True)
    last = kept[-1]
    if last.starts_at < moment and (last.ends_at is None or last.ends_at > moment):
        last.ends_at = moment
        last.save(update_fields=["ends_at", "updated_at"])
    return kept


def _plan_in_effect(
    subscription: Subscription, phases: list[SubscriptionPhase], at: datetime
) -> Plan:
    """The plan version in effect now, or at the current period start if that is later."""
    moment = at
    if subscription.current_period_start and subscription.current_period_start > moment:
        moment = subscription.current_period_start
    stop = subscription_stop_at(subscription=subscription)
    started = [
        phase
        for phase in phases
        if phase.starts_at <= moment and (stop is None or phase.starts_at < stop)
    ]
    return (started[-1] if started else phases[0]).plan


def _refresh_current_period(subscription: Subscription, phases: list[SubscriptionPhase]) -> None:
    """Recompute the current period's end after a change (an interval change or a stop cuts it)."""
    if subscription.current_period_start is None:
        return
    period = period_at(
        subscription=subscription, phases=phases, at=subscription.current_period_start
    )
    if period is None:
        subscription.current_period_start = subscription.current_period_end = None
    else:
        subscription.current_period_end = period.end


def _yearly_fee(plan: Plan) -> Decimal:
    return annualized(plan.base_amount, interval=plan.interval, interval_count=plan.interval_count)


def _currency_refusal(customer: Customer, plan: Plan) -> str | None:
    if customer.currency and plan.currency != customer.currency:
        return (
            f"Plan '{plan.code}' is billed in {plan.currency} but customer "
            f"'{customer.external_id}' is billed in {customer.currency}."
        )
    return None


# --- create ------------------------------------------------------------------------------------


@transaction.atomic
def subscription_create(
    *,
    customer: Customer,
    plan: Plan,
    started_at: datetime,
    anchor: str = BillingAnchor.ANNIVERSARY,
    at: datetime,
    ends_at: datetime | None = None,
    trial_days: int | None = None,
    metadata: dict | None = None,
) -> Subscription:
    """Subscribe `customer` to this plan version from `started_at` (which may be in the past).

    The current period is the first one (the trial, if the plan or `trial_days` gives one):
    the cycle close bills every period since then. The customer's currency is set from the
    plan when blank.
    """
    started_at, at, ends_at = (
        _utc("started_at", started_at),
        _utc("at", at),
        _utc("ends_at", ends_at),
    )
    errors: dict[str, str] = {}
    if anchor not in BillingAnchor.values:
        errors["anchor"] = f"Unknown anchor '{anchor}': choose anniversary or calendar."
    if started_at > at:
        errors["started_at"] = "started_at cannot be in the future."
    else:
        refusal = _start_refusal(plan, started_at, at)
        if refusal:
            errors["started_at"] = refusal
    if ends_at is not None and ends_at <= started_at:
        errors["ends_at"] = "ends_at must be after started_at."
    elif ends_at is not None and ends_at > at + MAX_SCHEDULE_AHEAD:
        errors["ends_at"] = "ends_at may be at most 5 years ahead."
    if trial_days is not None and (
        isinstance(trial_days, bool) or not isinstance(trial_days, int) or trial_days < 0
    ):
        errors["trial_days"] = "trial_days must be a whole number, 0 or more."
    if metadata is not None and not isinstance(metadata, dict):
        errors["metadata"] = "metadata must be a JSON object."
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    currency_refusal = _currency_refusal(customer, plan)
    if currency_refusal:
        errors["plan"] = currency_refusal
    if errors:
        raise ValidationError(errors)

    live = customer.subscriptions.filter(status__in=LIVE_STATUSES).select_related("plan").first()
    if live is not None:
        raise AppError.conflict(
            f"Customer '{customer.external_id}' already has a live subscription "
            f"(#{live.pk} on '{live.plan.code}'): change its plan or cancel it first."
        )
    last_billed_until = customer.subscriptions.aggregate(last=Max("ended_at"))["last"]
    if last_billed_until is not None and started_at < last_billed_until:
        raise ValidationError(
            {
                "started_at": f"Customer '{customer.external_id}' was billed on a previous "
                f"subscription until {_text(last_billed_until)}: start at or after it."
            }
        )

    if not customer.currency:
        customer.currency = plan.currency
        customer.save(update_fields=["currency", "updated_at"])
    days = plan.trial_days if trial_days is None else trial_days
    trial_ends_at = started_at + timedelta(days=days) if days else None
    trialing = trial_ends_at is not None and trial_ends_at > at
    subscription = Subscription.objects.create(
        customer=customer,
        plan=plan,
        status=SubscriptionStatus.TRIALING if trialing else SubscriptionStatus.ACTIVE,
        anchor=anchor,
        started_at=started_at,
        trial_ends_at=trial_ends_at,
        ends_at=ends_at,
        metadata=metadata or {},
    )
    phase = SubscriptionPhase.objects.create(
        subscription=subscription,
        plan=plan,
        starts_at=started_at,
        reason=PhaseReason.START,
        cycle_anchor_at=trial_ends_at or started_at,
    )
    first = period_at(subscription=subscription, phases=[phase], at=started_at)
    subscription.current_period_start, subscription.current_period_end = first.start, first.end
    subscription.save(update_fields=["current_period_start", "current_period_end", "updated_at"])
    subscription_created.send(sender=Subscription, subscription=subscription, at=at)
    return subscription


# --- change plan -------------------------------------------------------------------------------


def _check_change_moment(
    subscription: Subscription,
    phases: list[SubscriptionPhase],
    moment: datetime,
    at: datetime,
) -> None:
    stop = subscription_stop_at(subscription=subscription)
    if stop is not None and moment >= stop:
        raise ValidationError(
            {
                "at": f"Subscription #{subscription.pk} stops at {_text(stop)}: a change at "
                f"{_text(moment)} would never take effect."
            }
        )
    unbilled_from = subscription.current_period_start
    if unbilled_from is not None and moment < unbilled_from:
        raise ValidationError(
            {
                "at": f"The periods before {_text(unbilled_from)} are already billed: a change "
                "can take effect from then on."
            }
        )
    if moment < phases[-1].starts_at:
        raise ValidationError(
            {
                "at": f"The plan last changed at {_text(phases[-1].starts_at)}: a change cannot "
                "take effect before that."
            }
        )
    if moment > at + MAX_SCHEDULE_AHEAD:
        raise ValidationError({"at": "A plan change may be scheduled at most 5 years ahead."})
    if moment > at:
        period = period_at(subscription=subscription, phases=phases, at=moment)
        if period is None or period.start != moment:
            raise ValidationError(
                {
                    "at": "A change in the future must take effect at the start of a billing "
                    f"period; {_text(moment)} is not one."
                }
            )


@transaction.atomic
def subscription_change_plan(
    *,
    subscription: Subscription,
    plan: Plan,
    at: datetime,
    effective_at: datetime | None = None,
) -> Subscription:
    """Move the subscription to another plan version, recording a phase.

    An upgrade (annualized base fee higher or equal) takes effect at `at`; a downgrade at the
    end of the period `at` falls in. `effective_at` overrides either: any moment of the unbilled
    time up to now, or a future period start. A change to another interval restarts the billing
    cycle at that moment (the period running then is cut there). A pending change is replaced;
    asking for the current plan withdraws it.
    """
    at, effective_at = _utc("at", at), _utc("effective_at", effective_at)
    subscription = _locked(subscription)
    if not subscription.is_live:
        raise ValidationError(
            f"Subscription #{subscription.pk} is {subscription.status}: "
            "its plan can no longer change."
        )
    currency_refusal = _currency_refusal(subscription.customer, plan)
    if currency_refusal:
        raise ValidationError({"plan": currency_refusal})

    phases, withdrew_pending = _drop_phases_from(_load_phases(subscription), at, inclusive=False)
    current = phases[-1]
    if plan.pk == current.plan_id:
        if not withdrew_pending:
            raise ValidationError(
                {
                    "plan": f"Subscription #{subscription.pk} is already on plan "
                    f"'{plan.code}' v{plan.version}."
                }
            )
    else:
        _record_change(subscription, phases, current, plan=plan, at=at, effective_at=effective_at)
    subscription.plan = _plan_in_effect(subscription, phases, at)
    _refresh_current_period(subscription, phases)
    subscription.save()
    subscription_updated.send(sender=Subscription, subscription=subscription, at=at)
    return subscription


def _record_change(
    subscription: Subscription,
    phases: list[SubscriptionPhase],
    current: SubscriptionPhase,
    *,
    plan: Plan,
    at: datetime,
    effective_at: datetime | None,
) -> None:
    old_plan = current.plan
    is_upgrade = _yearly_fee(plan) >= _yearly_fee(old_plan)
    if plan.code == old_plan.code:
        reason = PhaseReason.PLAN_CHANGE
    else:
        reason = PhaseReason.UPGRADE if is_upgrade else PhaseReason.DOWNGRADE
    if effective_at is not None:
        moment = effective_at
    elif is_upgrade:
        moment = at
    else:
        unbilled_from = subscription.current_period_start or at
        period = period_at(subscription=subscription, phases=phases, at=max(at, unbilled_from))
        moment = period.end if period is not None else at
    _check_change_moment(subscription, phases, moment, at)

    same_cycle = (plan.interval, plan.interval_count) == (
        old_plan.interval,
        old_plan.interval_count,
    )
    if same_cycle:
        cycle_anchor_at = current.cycle_anchor_at
    elif subscription.trial_ends_at is not None:
        cycle_anchor_at = max(moment, subscription.trial_ends_at)
    else:
        cycle_anchor_at = moment

    if moment == current.starts_at:
        # Two changes at one instant: the later one replaces the plan of that phase.
        current.plan = plan
        current.cycle_anchor_at = cycle_anchor_at
        if current.reason != PhaseReason.START:
            current.reason = reason
        current.save()
        return
    current.ends_at = moment
    current.save(update_fields=["ends_at", "updated_at"])
    phases.append(
        SubscriptionPhase.objects.create(
            subscription=subscription,
            plan=plan,
            starts_at=moment,
            reason=reason,
            cycle_anchor_at=cycle_anchor_at,
        )
    )


# --- cancel ------------------------------------------------------------------------------------


@transaction.atomic
def subscription_cancel(
    *, subscription: Subscription, at_period_end: bool, at: datetime
) -> Subscription:
    """Cancel at the end of the period `at` falls in, or now (the last period is cut at `at`).

    A pending plan change that would start at or after the cancellation is dropped.
    """
    at = _utc("at", at)
    subscription = _locked(subscription)
    if not subscription.is_live:
        raise ValidationError(f"Subscription #{subscription.pk} is already {subscription.status}.")
    stop = subscription_stop_at(subscription=subscription)
    if stop is not None and at >= stop:
        raise ValidationError(
            f"Subscription #{subscription.pk} already stopped at {_text(stop)}; "
            "it closes with its last billed period."
        )
    phases = _load_phases(subscription)
    unbilled_from = subscription.current_period_start or at
    if at_period_end:
        period = period_at(subscription=subscription, phases=phases, at=max(at, unbilled_from))
        subscription.cancel_at_period_end = True
        subscription.cancel_at = period.end
        subscription.canceled_at = at
        phases, _ = _drop_phases_from(phases, period.end, inclusive=True)
    else:
        ended_at = max(at, unbilled_from)
        subscription.status = SubscriptionStatus.CANCELED
        subscription.canceled_at = at
        subscription.ended_at = ended_at
        subscription.cancel_at_period_end = False
        subscription.cancel_at = None
        phases = _close_phases_at(phases, ended_at)
    subscription.plan = _plan_in_effect(subscription, phases, at)
    _refresh_current_period(subscription, phases)
    subscription.save()
    subscription_canceled.send(sender=Subscription, subscription=subscription, at=at)
    return subscription


# --- advance -----------------------------------------------------------------------------------


@transaction.atomic
def subscriptions_advance_periods(
    *, locked: list[tuple[Subscription, list[SubscriptionPhase]]], at: datetime
) -> None:
    """subscription_advance_period for subscriptions the caller locked and read, with their
    phases, in this transaction (the cycle close's batches).

    A period that just moves on (no status, plan or billing-block change: the usual month to
    month) is written for all of them by one UPDATE of the period fields, which the audit log
    leaves out (billing/audit.py) and no signal follows; the others go one by one.
    """
    at = _utc("at", at)
    moving = []
    for subscription, phases in locked:
        if _moves_on_quietly(subscription, phases, at):
            moving.append(subscription)
        else:
            subscription_advance_period(subscription=subscription, at=at, locked_phases=phases)
    by_period = defaultdict(list)
    for subscription in moving:
        period = subscription.current_period_start, subscription.current_period_end
        by_period[period].append(subscription.pk)
    now = timezone.now()
    for (start, end), ids in by_period.items():  # one UPDATE per new period, not per row
        Subscription.objects.filter(pk__in=ids).update(
            current_period_start=start, current_period_end=end, updated_at=now
        )


def _moves_on_quietly(
    subscription: Subscription, phases: list[SubscriptionPhase], at: datetime
) -> bool:
    """Advance the period in memory when nothing else changes with it; else change nothing."""
    boundary = subscription.current_period_end
    if boundary is None or subscription.billing_blocked_at or subscription.billing_blocked_reason:
        return False
    if (
        subscription.status == SubscriptionStatus.TRIALING
        and subscription.trial_ends_at <= boundary
    ):
        return False
    phases = sorted(phases, key=lambda phase: phase.starts_at)
    period = period_after(subscription=subscription, phases=phases, boundary=boundary)
    if period is None:
        return False
    before = subscription.current_period_start, subscription.current_period_end
    subscription.current_period_start, subscription.current_period_end = period.start, period.end
    if _plan_in_effect(subscription, phases, at).pk != subscription.plan_id:
        subscription.current_period_start, subscription.current_period_end = before
        return False
    return True


def subscription_advance_period(
    *,
    subscription: Subscription,
    at: datetime,
    locked_phases: list[SubscriptionPhase] | None = None,
) -> Subscription:
    """Move past the current period once it is billed, applying what happens at its end.

    A trial that ended makes it active, a pending change becomes the plan, a cancellation or
    expiration that is due stops it (current period None). Advances one period; the cycle
    close calls it until current_period_end > at. Locks the row (safe inside the caller's lock).

    locked_phases: the caller already holds the row lock, in this transaction, and read the row
    and its phases (with their plans) after taking it: they are used as they are (the cycle
    close of many subscriptions saves two queries each).
    """
    at = _utc("at", at)
    if locked_phases is None:
        subscription = _locked(subscription)
    if subscription.current_period_end is None:
        raise ValidationError(f"Subscription #{subscription.pk} has no period left to bill.")
    boundary = subscription.current_period_end
    status_before = subscription.status
    if locked_phases is None:
        phases = _load_phases(subscription)
    else:
        phases = sorted(locked_phases, key=lambda phase: phase.starts_at)
    period = period_after(subscription=subscription, phases=phases, boundary=boundary)
    if period is None:
        stop = subscription_stop_at(subscription=subscription)
        if subscription.is_live:
            canceled = subscription.cancel_at is not None and subscription.cancel_at <= stop
            subscription.status = (
                SubscriptionStatus.CANCELED if canceled else SubscriptionStatus.ENDED
            )
            subscription.ended_at = stop
        phases = _close_phases_at(phases, stop)
        subscription.current_period_start = subscription.current_period_end = None
    else:
        subscription.current_period_start, subscription.current_period_end = (
            period.start,
            period.end,
        )
        trial_ends_at = subscription.trial_ends_at
        if subscription.status == SubscriptionStatus.TRIALING and trial_ends_at <= boundary:
            subscription.status = SubscriptionStatus.ACTIVE
    subscription.plan = _plan_in_effect(subscription, phases, at)
    # A period closed: whatever blocked billing before is behind it (docs/operations.md).
    subscription.billing_blocked_at, subscription.billing_blocked_reason = None, ""
    subscription.save()
    if subscription.status != status_before:
        subscription_updated.send(sender=Subscription, subscription=subscription, at=at)
    return subscription
