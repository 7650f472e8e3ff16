"""On-demand charges: usage invoiced every hour or day, priced on the phase's cumulative usage.

A charge with cadence "on_demand" is left out of the period invoices. Windows are aligned on
calendar hours or days (settings.ON_DEMAND_BILLING: "hourly" or "daily"); each closed window
[w_start, w_end) with usage yields one invoice of kind "on_demand" (period = the window) with,
per on-demand charge, rate_increment(before = usage from the phase start to w_start, after =
usage from the phase start to w_end): tiers and free units apply to the phase's cumulative
usage, so each invoice charges rate(total after) − rate(total before). A window without usage
yields no invoice. Missed windows are caught up in order, after the last on-demand invoice.

Late usage (events that arrive for a window already past) is never lost nor charged twice:
each line records the cumulative quantity it charged up to, and the first invoice of a run
charges, as an "adjustment" line, the increment from what was already invoiced to the
cumulative usage before its window. With late usage and no new window, the last closed
window is invoiced for it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Trunc

from catalog.currencies import currency_exponent
from catalog.models import Cadence
from customers.models import Subscription, SubscriptionPhase
from customers.selectors import subscription_phases
from invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from invoices.services.drafts import DraftLine, InvoiceDraft, draft_make
from invoices.services.inputs import BuildContext, PricedCharge, unit_amount_of
from metering.selectors import Usage, events_for_usage
from rating import ChargeSpec, add_interval, calendar_floor, rate_increment, round_money
from rating.money import decimal_string

WINDOW_UNITS = {"hourly": "hour", "daily": "day"}
NO_USAGE = Usage(quantity=Decimal("0"), event_count=0)


@dataclass(frozen=True)
class OnDemandPhase:
    """A phase whose plan has on-demand charges: [start, end) and those charges."""

    start: datetime
    end: datetime | None
    charges: list[PricedCharge]


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
        SubscriptionPhase.objects.filter(plan__charges__cadence=Cadence.ON_DEMAND, starts_at__lt=at)
        .annotate(last_end=last_end)
        .filter(Q(ends_at__isnull=True) | Q(last_end__isnull=True) | Q(ends_at__gt=F("last_end")))
    )
    return sorted(set(phases.values_list("subscription_id", flat=True)))


def on_demand_phases(*, subscription: Subscription, ctx: BuildContext) -> list[OnDemandPhase]:
    phases = []
    for phase in subscription_phases(subscription=subscription):
        charges = [priced for priced in ctx.plans.charges(phase.plan) if priced.is_on_demand]
        if charges:
            phases.append(OnDemandPhase(start=phase.starts_at, end=phase.ends_at, charges=charges))
    return phases


def on_demand_billed_until(*, subscription: Subscription) -> datetime | None:
    """The end of the last on-demand window invoiced, or None."""
    return (
        Invoice.objects.filter(subscription=subscription, kind=InvoiceKind.ON_DEMAND)
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )


def on_demand_windows_due(
    *, subscription: Subscription, at: datetime, ctx: BuildContext
) -> list[tuple[datetime, datetime]]:
    """The closed windows after the last on-demand invoice that hold usage, in time order."""
    unit = on_demand_unit()
    horizon = calendar_floor(at, interval=unit)  # windows starting before it have ended
    since = on_demand_billed_until(subscription=subscription)
    customer_id = subscription.customer.external_id
    starts: set[datetime] = set()
    for phase in on_demand_phases(subscription=subscription, ctx=ctx):
        low = phase.start if since is None else max(phase.start, since)
        high = horizon if phase.end is None else min(phase.end, horizon)
        if low >= high:
            continue
        for meter in {priced.meter.pk: priced.meter for priced in phase.charges}.values():
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
    if not starts and since is not None and since <= last_closed:
        if _late_usage_pending(subscription, ctx, until=since):
            starts.add(last_closed)
    return [(start, add_interval(start, interval=unit)) for start in sorted(starts)]


def _late_usage_pending(subscription: Subscription, ctx: BuildContext, *, until: datetime) -> bool:
    """Whether usage before `until` was not invoiced yet (it arrived after its window's turn)."""
    customer_id = subscription.customer.external_id
    for phase in on_demand_phases(subscription=subscription, ctx=ctx):
        end = until if phase.end is None else min(phase.end, until)
        for priced in phase.charges:
            known = _cumulative(ctx, priced, customer_id, start=phase.start, end=end)
            if _exceeds(
                known,
                on_demand_invoiced(
                    subscription=subscription, priced=priced, phase_start=phase.start
                ),
            ):
                return True
    return False


def on_demand_invoiced(
    *, subscription: Subscription, priced: PricedCharge, phase_start: datetime
) -> Usage:
    """The cumulative usage of the charge in the phase that on-demand invoices charged so far."""
    breakdowns = (
        InvoiceLine.objects.filter(
            invoice__subscription=subscription,
            invoice__kind=InvoiceKind.ON_DEMAND,
            charge=priced.charge,
            usage_start__gte=phase_start,
        )
        .exclude(invoice__status=InvoiceStatus.VOID)
        .values_list("breakdown", flat=True)
    )
    charged = [
        Usage(
            quantity=Decimal(breakdown["cumulative_after"]),
            event_count=int(breakdown.get("cumulative_events_after", 0)),
        )
        for breakdown in breakdowns
        if "cumulative_after" in breakdown
    ]
    return max(charged, key=lambda usage: (usage.quantity, usage.event_count), default=NO_USAGE)


def _exceeds(known: Usage, charged: Usage) -> bool:
    return (known.quantity, known.event_count) > (charged.quantity, charged.event_count)


def build_on_demand_window(
    *,
    subscription: Subscription,
    window_start: datetime,
    window_end: datetime,
    ctx: BuildContext,
    catch_up_late: bool = True,
) -> InvoiceDraft | None:
    """The on-demand invoice of [window_start, window_end), or None when it holds no usage.

    catch_up_late: also charge usage before the window that no invoice charged yet (only the
    first window of a run: the later ones are built before the first is saved in a dry run).
    """
    lines = []
    customer_id = subscription.customer.external_id
    exponent = currency_exponent(subscription.plan.currency)
    for phase in on_demand_phases(subscription=subscription, ctx=ctx):
        low = max(window_start, phase.start)
        high = window_end if phase.end is None else min(window_end, phase.end)
        if low >= high:
            continue
        for priced in phase.charges:
            before = _cumulative(ctx, priced, customer_id, start=phase.start, end=low)
            after = _cumulative(ctx, priced, customer_id, start=phase.start, end=high)
            if catch_up_late:
                charged = on_demand_invoiced(
                    subscription=subscription, priced=priced, phase_start=phase.start
                )
                if _exceeds(before, charged):
                    lines.append(
                        _late_line(
                            priced,
                            phase_start=phase.start,
                            charged=charged,
                            before=before,
                            until=low,
                            exponent=exponent,
                        )
                    )
            if after == before:
                continue
            amount, breakdown = rated_increment(
                priced.spec, before=before, after=after, exponent=exponent
            )
            lines.append(
                DraftLine(
                    kind=LineKind.USAGE,
                    description=priced.charge.description or priced.meter.name,
                    amount=amount,
                    quantity=after.quantity - before.quantity,
                    unit_amount=unit_amount_of(priced),
                    plan=priced.charge.plan,
                    charge=priced.charge,
                    meter=priced.meter,
                    breakdown={**breakdown, "cumulative_from": phase.start.isoformat()},
                    usage_start=low,
                    usage_end=high,
                )
            )
    if not lines:
        return None
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.ON_DEMAND,
        period_start=window_start,
        period_end=window_end,
        lines=lines,
    )


def _late_line(
    priced: PricedCharge,
    *,
    phase_start: datetime,
    charged: Usage,
    before: Usage,
    until: datetime,
    exponent: int,
) -> DraftLine:
    """Usage before `until` that arrived after its window was invoiced, charged on the tiers."""
    amount, breakdown = rated_increment(
        priced.spec, before=charged, after=before, exponent=exponent
    )
    name = priced.charge.description or priced.meter.name
    return DraftLine(
        kind=LineKind.ADJUSTMENT,
        description=f"{name}, late usage before {until:%b} {until.day}, {until:%Y, %H:%M}",
        amount=amount,
        quantity=before.quantity - charged.quantity,
        unit_amount=unit_amount_of(priced),
        plan=priced.charge.plan,
        charge=priced.charge,
        meter=priced.meter,
        breakdown={**breakdown, "cumulative_from": phase_start.isoformat()},
        usage_start=phase_start,
        usage_end=until,
    )


def rated_increment(spec: ChargeSpec, *, before: Usage, after: Usage, exponent: int):
    """(rounded amount, breakdown) of the usage added from `before` to `after`."""
    rating = rate_increment(
        spec,
        before=before.quantity,
        after=after.quantity,
        event_count=after.event_count - before.event_count,
    )
    breakdown = {
        **rating.as_dict(),
        "event_count": after.event_count - before.event_count,
        "cumulative_before": decimal_string(before.quantity),
        "cumulative_after": decimal_string(after.quantity),
        "cumulative_events_after": after.event_count,
    }
    return round_money(rating.amount, exponent=exponent), breakdown


def _cumulative(ctx, priced, customer_id, *, start, end) -> Usage:
    if end <= start:
        return NO_USAGE
    return ctx.usage.read(
        meter=priced.meter, external_customer_id=customer_id, start=start, end=end
    )
