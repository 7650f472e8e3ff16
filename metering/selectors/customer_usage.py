"""A customer's usage so far in the current billing period, per meter, with its amount.

What `GET /api/v1/customers/{external_id}/usage` answers. The amount is each charge of the
current plan rated on the quantity so far and rounded half-up to the currency (as an invoice
line would be); the upcoming invoice (invoices app) remains the authoritative preview.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from catalog.currencies import round_to_currency
from catalog.models import Meter, MeterReset, Plan
from catalog.selectors import charge_spec, plan_with_charges
from customers.models import LIVE_STATUSES, Customer, Subscription
from customers.selectors import customer_get, subscription_period_at, subscription_plan_at
from metering.selectors.usage import GroupUsage, Usage, usage_by_group, usage_for_period
from rating import RatingError, add_interval, rate


@dataclass(frozen=True)
class MeterUsage:
    """One meter's usage over its window; `amount` is None when no plan prices it, or when
    rating refuses the quantity (e.g. a negative sum), then `amount_error` says why."""

    meter: Meter
    start: datetime
    end: datetime
    usage: Usage
    amount: Decimal | None
    groups: list[GroupUsage]
    amount_error: str = ""


@dataclass(frozen=True)
class CustomerUsage:
    """Usage of every meter in the customer's current period (or calendar month without one)."""

    customer: Customer
    subscription: Subscription | None
    plan: Plan | None
    period_start: datetime
    period_end: datetime
    meters: list[MeterUsage]

    @property
    def currency(self) -> str | None:
        return None if self.plan is None else self.plan.currency

    @property
    def amount(self) -> Decimal | None:
        """The sum of the meters' rounded amounts (usage charges only, no fixed fees)."""
        if self.plan is None:
            return None
        return sum((meter.amount or Decimal("0") for meter in self.meters), Decimal("0"))


def customer_usage(*, external_customer_id: str, at: datetime) -> CustomerUsage:
    """Usage so far in the period containing `at`; raises Customer.DoesNotExist.

    With a live subscription: the meters its plan charges, over the current period (from the
    subscription's start for reset = never meters), each with its amount so far. Without
    one: every meter over the calendar month of `at`, without amounts.
    """
    customer = customer_get(external_id=external_customer_id)
    subscription = (
        Subscription.objects.filter(customer=customer, status__in=LIVE_STATUSES)
        .select_related("plan")
        .first()
    )
    period = None
    if subscription is not None:
        period = subscription_period_at(subscription=subscription, at=at)
    if period is None:
        start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = add_interval(start, interval="month")
        meters = [
            _meter_usage(meter, customer, start=start, end=end, charges=[], currency=None)
            for meter in Meter.objects.order_by("code")
        ]
        return CustomerUsage(customer, None, None, start, end, meters)

    plan = plan_with_charges(plan_id=subscription_plan_at(subscription=subscription, at=at).pk)
    charges_by_meter: dict[int, list] = {}
    meters_in_order: list[Meter] = []
    for charge in plan.charges.all():
        if charge.meter_id not in charges_by_meter:
            charges_by_meter[charge.meter_id] = []
            meters_in_order.append(charge.meter)
        charges_by_meter[charge.meter_id].append(charge)
    meters = []
    for meter in meters_in_order:
        start = subscription.started_at if meter.reset == MeterReset.NEVER else period.start
        meters.append(
            _meter_usage(
                meter,
                customer,
                start=start,
                end=period.end,
                charges=charges_by_meter[meter.pk],
                currency=plan.currency,
            )
        )
    return CustomerUsage(customer, subscription, plan, period.start, period.end, meters)


def _meter_usage(meter, customer, *, start, end, charges, currency) -> MeterUsage:
    window = {
        "meter": meter,
        "external_customer_id": customer.external_id,
        "start": start,
        "end": end,
    }
    usage = usage_for_period(**window)
    groups = usage_by_group(**window) if meter.group_by else []
    amount = None
    if charges:
        amount = Decimal("0")
        for charge in charges:
            spec = charge_spec(charge=charge)
            try:
                rating = rate(spec, usage.quantity, event_count=usage.event_count)
            except RatingError as error:
                return MeterUsage(meter, start, end, usage, None, groups, str(error))
            amount += round_to_currency(rating.amount, currency)
    return MeterUsage(meter, start, end, usage, amount, groups)
