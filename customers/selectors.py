"""Reads over customers and subscriptions: lookups, billing periods, and plan phases per period.

The period rules live here so that the services, the cycle close and the preview agree:
a trial is a period of its own, then periods follow the billing anchor of the plan in effect,
an interval change restarts the cycle, and the subscription's end truncates the last period.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, localcontext

from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from catalog.models import Plan
from customers.models import (
    CREDIT_KINDS,
    Customer,
    Subscription,
    SubscriptionPhase,
    Wallet,
    WalletTransaction,
)
from rating.money import DIVISION
from rating.periods import Anchor, Interval, Period, period_containing, seconds_between


@dataclass(frozen=True)
class PhaseSlice:
    """The part of a billing period one plan version was in effect, as a share of the full one.

    `phase_start` is when the phase began (before `start` when the phase began in an earlier
    period): a reset = never meter accumulates from there.
    """

    plan: Plan
    start: datetime
    end: datetime
    fraction: Decimal
    reason: str
    phase_start: datetime


# --- customers ---------------------------------------------------------------------------------


def customer_get(*, external_id: str) -> Customer:
    """The customer with this external id; raises Customer.DoesNotExist."""
    return Customer.objects.get(external_id=external_id)


def customer_list(*, search: str = "", currency: str = "") -> QuerySet[Customer]:
    """Customers by name, optionally matching `search` in external id, name, email or tax id."""
    customers = Customer.objects.all()
    if search:
        customers = customers.filter(
            Q(external_id__icontains=search)
            | Q(name__icontains=search)
            | Q(email__icontains=search)
            | Q(tax_id__icontains=search)
        )
    if currency:
        customers = customers.filter(currency=currency.upper())
    return customers.prefetch_related(
        Prefetch("subscriptions", queryset=Subscription.objects.only("id", "customer_id"))
    ).order_by("name", "external_id")


# --- subscriptions -----------------------------------------------------------------------------


def _with_details(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    return subscriptions.select_related("customer", "plan").prefetch_related(
        Prefetch("phases", queryset=SubscriptionPhase.objects.select_related("plan"))
    )


def subscription_get(*, subscription_id: int) -> Subscription:
    """One subscription with its customer, plan and phases; raises Subscription.DoesNotExist."""
    return _with_details(Subscription.objects.all()).get(pk=subscription_id)


def subscription_list(
    *, customer_external_id: str = "", status: str = "", plan_code: str = ""
) -> QuerySet[Subscription]:
    """Subscriptions, newest first, optionally for one customer, status or plan code."""
    subscriptions = Subscription.objects.all()
    if customer_external_id:
        subscriptions = subscriptions.filter(customer__external_id=customer_external_id)
    if status:
        subscriptions = subscriptions.filter(status=status)
    if plan_code:
        subscriptions = subscriptions.filter(plan__code=plan_code)
    return _with_details(subscriptions).order_by("-started_at", "-id")


def subscriptions_due(*, at: datetime) -> QuerySet[Subscription]:
    """Subscriptions whose current (first unbilled) period ended at or before `at`."""
    return (
        Subscription.objects.filter(current_period_end__lte=at)
        .select_related("customer", "plan")
        .order_by("current_period_end", "id")
    )


def subscription_phases(*, subscription: Subscription) -> list[SubscriptionPhase]:
    """The subscription's phases in time order (uses prefetched phases when there are some)."""
    return sorted(subscription.phases.all(), key=lambda phase: phase.starts_at)


def subscription_stop_at(*, subscription: Subscription) -> datetime | None:
    """The moment billing stops: canceled, expired (ends_at) or canceled at a period end."""
    moments = [
        moment
        for moment in (subscription.ended_at, subscription.ends_at, subscription.cancel_at)
        if moment is not None
    ]
    return min(moments) if moments else None


def phase_at(phases: list[SubscriptionPhase], at: datetime) -> SubscriptionPhase:
    """The phase in effect at `at` (the first one for moments before the start)."""
    current = phases[0]
    for phase in phases:
        if phase.starts_at <= at:
            current = phase
    return current


def period_at(
    *, subscription: Subscription, phases: list[SubscriptionPhase], at: datetime
) -> Period | None:
    """The billing period containing `at`, or None before the start or once billing stopped."""
    stop = subscription_stop_at(subscription=subscription)
    if at < subscription.started_at or (stop is not None and at >= stop):
        return None
    trial_ends_at = subscription.trial_ends_at
    if trial_ends_at is not None and at < trial_ends_at:
        # The trial is a period of its own; the billing cycle is counted from its end.
        period = Period(
            start=subscription.started_at,
            end=trial_ends_at,
            index=-1,
            full_start=subscription.started_at,
            full_end=trial_ends_at,
        )
    else:
        phase = phase_at(phases, at)
        period = period_containing(
            started_at=phase.cycle_anchor_at,
            anchor=Anchor(subscription.anchor),
            interval=Interval(phase.plan.interval),
            interval_count=phase.plan.interval_count,
            at=at,
        )
        for later in phases:
            restarts_cycle = later.cycle_anchor_at != phase.cycle_anchor_at
            if restarts_cycle and at < later.starts_at < period.end:
                period = replace(period, end=later.starts_at)
                break
    if stop is not None and stop < period.end:
        period = replace(period, end=stop)
    return period


def period_after(
    *, subscription: Subscription, phases: list[SubscriptionPhase], boundary: datetime
) -> Period | None:
    """The period that follows a billed period ending at `boundary`, or None when billing stops
    there: the one rule of both the cycle close's steps and subscription_advance_period."""
    stop = subscription_stop_at(subscription=subscription)
    if stop is not None and boundary >= stop:
        return None
    return period_at(subscription=subscription, phases=phases, at=boundary)


def subscription_period_at(*, subscription: Subscription, at: datetime) -> Period | None:
    """The billing period of the subscription that contains `at` (None outside its life)."""
    phases = subscription_phases(subscription=subscription)
    return period_at(subscription=subscription, phases=phases, at=at)


def subscription_period_for(*, subscription: Subscription, period_start: datetime) -> Period:
    """The Period starting at `period_start` (with full_start/full_end for proration).

    A moment that is not a period start gives the period containing it. Raises ValueError
    when the subscription is not billed at that moment.
    """
    period = subscription_period_at(subscription=subscription, at=period_start)
    if period is None:
        raise ValueError(
            f"Subscription #{subscription.pk} has no billing period at {period_start.isoformat()}."
        )
    return period


def subscription_current_period(*, subscription: Subscription) -> Period | None:
    """The first unbilled period, or None once the final period has been billed."""
    if subscription.current_period_start is None:
        return None
    period = subscription_period_for(
        subscription=subscription, period_start=subscription.current_period_start
    )
    return replace(period, end=subscription.current_period_end)


def subscription_plan_at(*, subscription: Subscription, at: datetime) -> Plan:
    """The plan version that applied (or will apply) at `at`."""
    return phase_at(subscription_phases(subscription=subscription), at).plan


def subscription_phases_for_period(
    *, subscription: Subscription, period_start: datetime, period_end: datetime
) -> list[PhaseSlice]:
    """The phases overlapping [period_start, period_end), clipped to it, in time order.

    Each slice's fraction is its seconds over the seconds of the FULL billing period, so a
    first calendar period from Mar 15 on one plan is 17/31 of a month.
    """
    phases = subscription_phases(subscription=subscription)
    period = period_at(subscription=subscription, phases=phases, at=period_start)
    if period is None:
        full_start, full_end = period_start, period_end
    else:
        full_start, full_end = period.full_start, period.full_end
    whole_seconds = seconds_between(full_start, full_end)
    slices = []
    for phase in phases:
        start = max(phase.starts_at, period_start)
        end = period_end if phase.ends_at is None else min(phase.ends_at, period_end)
        if start < end:
            with localcontext(DIVISION):
                fraction = seconds_between(start, end) / whole_seconds
            slices.append(
                PhaseSlice(
                    plan=phase.plan,
                    start=start,
                    end=end,
                    fraction=fraction,
                    reason=phase.reason,
                    phase_start=phase.starts_at,
                )
            )
    return slices


# --- wallets ---------------------------------------------------------------------------------


def wallet_balance(*, wallet: Wallet) -> Decimal:
    """What the wallet holds: the sum of its transactions (docs/architecture.md, "Wallets")."""
    total = wallet.transactions.aggregate(balance=Coalesce(Sum("amount"), Decimal(0)))
    return total["balance"]


def wallet_credits_left(
    *, wallet: Wallet, at: datetime | None, expired: bool = False
) -> list[tuple[WalletTransaction, Decimal]]:
    """Each credit with something left, and how much, in the order they are spent: lowest
    priority number first, then earliest expiry (none last), then oldest.

    At `at`, credits past their expiry are left out, or only they when `expired` is true;
    `at=None` lists every credit with something left.
    """
    credits = WalletTransaction.objects.filter(wallet=wallet, kind__in=CREDIT_KINDS).annotate(
        left=F("amount") + Coalesce(Sum("debits__amount"), Decimal(0))
    )
    if at is not None and expired:
        credits = credits.filter(expires_at__lte=at)
    elif at is not None:
        credits = credits.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
    credits = credits.filter(left__gt=0).order_by(
        "priority", F("expires_at").asc(nulls_last=True), "created_at", "id"
    )
    return [(credit, credit.left) for credit in credits]


def wallet_balance_at(*, transaction: WalletTransaction) -> Decimal:
    """The wallet's balance right after `transaction` (what a low-balance warning reports)."""
    upto = WalletTransaction.objects.filter(wallet_id=transaction.wallet_id).filter(
        Q(created_at__lt=transaction.created_at)
        | Q(created_at=transaction.created_at, id__lte=transaction.pk)
    )
    return upto.aggregate(balance=Coalesce(Sum("amount"), Decimal(0)))["balance"]
