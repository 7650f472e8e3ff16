"""A customer's usage so far in the current billing period, per meter, priced by the ledger.

What `GET /api/v1/customers/{external_id}/usage` answers (a selector: it writes nothing). The
amounts come from the charge ledger (invoices.services.ledger), the same function as the
upcoming invoice and the cycle close: `amount` is what the period owes for the meter so far
(every slice of the period, commitments included) and `billed` what on-demand invoices already
billed of it, so amount − billed is what the upcoming invoice still shows for it.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from catalog.models import Meter
from customers.models import Customer
from customers.selectors import customer_get, subscription_period_at
from invoices.selectors import NoUpcomingInvoice, _billable_subscription
from invoices.services.builder import timeline_of
from invoices.services.inputs import BuildContext
from invoices.services.ledger import billed_before, charge_owed
from invoices.services.steps import billing_state
from metering.selectors import GroupUsage, Usage, usage_by_group, usage_for_period
from rating import RatingError, add_interval

ZERO = Decimal("0")


@dataclass
class MeterUsage:
    """One meter's usage over its window on the plan in effect now, and what it owes.

    `amount` is None when no charge of the period prices the meter, or when rating refuses the
    quantity (then `amount_error` says why).
    """

    meter: Meter
    start: datetime
    end: datetime
    usage: Usage
    amount: Decimal | None
    billed: Decimal | None
    groups: list[GroupUsage] = field(default_factory=list)
    amount_error: str = ""


@dataclass(frozen=True)
class CustomerUsage:
    """Usage of every meter in the customer's current period (or calendar month without one)."""

    customer: Customer
    subscription: object | None
    plan: object | None
    period_start: datetime
    period_end: datetime
    meters: list[MeterUsage]

    @property
    def currency(self) -> str | None:
        return None if self.plan is None else self.plan.currency

    @property
    def amount(self) -> Decimal | None:
        """What the period owes for usage so far (no fixed fees)."""
        if self.plan is None:
            return None
        return sum((meter.amount or ZERO for meter in self.meters), ZERO)


def customer_usage(*, external_customer_id: str, at: datetime) -> CustomerUsage:
    """Usage so far in the customer's current period (the one holding `at`); raises
    Customer.DoesNotExist. Without a subscription: every meter over the calendar month of `at`,
    without amounts."""
    customer = customer_get(external_id=external_customer_id)
    subscription = _billable_subscription(customer)
    period = None
    if subscription is not None:
        # The period holding `at`; once billing stopped, the last one left to bill.
        period = subscription_period_at(subscription=subscription, at=at)
        state = billing_state(subscription=subscription)
        if period is None and state.cycle_start is not None:
            period = subscription_period_at(subscription=subscription, at=state.cycle_start)
    if period is None:
        start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = add_interval(start, interval="month")
        meters = [
            _unpriced(meter, customer, start=start, end=end)
            for meter in Meter.objects.order_by("code")
        ]
        return CustomerUsage(customer, None, None, start, end, meters)

    ctx = BuildContext()
    timeline = timeline_of(
        subscription=subscription, cycle_start=period.start, start=period.start, end=period.end
    )
    by_meter: dict[int, MeterUsage] = {}
    for piece in timeline.slices:
        if piece.start > at and piece is not timeline.slices[0]:
            continue
        for priced in ctx.plans.charges(piece.plan):
            try:
                owed = charge_owed(
                    subscription=subscription,
                    period_start=timeline.period.start,
                    piece=piece,
                    priced=priced,
                    until=at,
                    ctx=ctx,
                    trial=timeline.trial,
                    final=True,
                )
            except RatingError as error:
                entry = _entry(by_meter, priced.meter, piece.start, at, Usage(ZERO, 0))
                entry.amount, entry.amount_error = None, str(error)
                continue
            entry = _entry(by_meter, priced.meter, owed.window_start, owed.until, owed.usage)
            if entry.amount_error:
                continue
            # The window on the plan in effect now: later slices replace earlier ones.
            entry.start, entry.end, entry.usage = owed.window_start, owed.until, owed.usage
            entry.amount += owed.amount
            entry.billed += billed_before(owed, ctx).amount
    for entry in by_meter.values():
        if entry.meter.group_by:
            entry.groups = usage_by_group(
                meter=entry.meter,
                external_customer_id=customer.external_id,
                start=entry.start,
                end=entry.end,
            )
    return CustomerUsage(
        customer,
        subscription,
        timeline.slices[-1].plan if timeline.slices else subscription.plan,
        timeline.period.start,
        timeline.period.end,
        list(by_meter.values()),
    )


def _entry(by_meter, meter: Meter, start, end, usage: Usage) -> MeterUsage:
    if meter.pk not in by_meter:
        by_meter[meter.pk] = MeterUsage(meter, start, end, usage, ZERO, ZERO)
    return by_meter[meter.pk]


def _unpriced(meter: Meter, customer: Customer, *, start, end) -> MeterUsage:
    window = {"meter": meter, "external_customer_id": customer.external_id, "start": start}
    usage = usage_for_period(**window, end=end)
    groups = usage_by_group(**window, end=end) if meter.group_by else []
    return MeterUsage(meter, start, end, usage, None, None, groups)


__all__ = ["CustomerUsage", "MeterUsage", "NoUpcomingInvoice", "customer_usage"]
