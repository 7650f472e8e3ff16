"""Bulk reads for the cycle close: the usage of many due subscriptions in one query per meter.

Subscriptions whose periods end together (all monthly customers on the 1st) share a usage
window: one GROUP BY external_customer_id per (meter, window) replaces a query per
subscription and charge. Only the common case is primed (a due period billed on one plan
from its start); anything else is read one value at a time by the builder, as before.
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from catalog.models import MeterReset
from customers.models import Subscription
from customers.selectors import subscription_phases, subscription_phases_for_period
from invoices.services.inputs import BuildContext
from invoices.services.ledger import accumulation_start
from metering.selectors import Usage, usage_by_customer, usage_for_windows

# Customer ids per query: far below PostgreSQL's and SQLite's limits on bound parameters.
IDS_PER_QUERY = 2_000
NO_USAGE = Usage(quantity=Decimal("0"), event_count=0)


def usage_prime_due(*, ctx: BuildContext, subscriptions: list[Subscription], at: datetime) -> int:
    """Read ahead the usage the close of each subscription's current period needs.

    `subscriptions` come with their customer and phases loaded. Returns how many usage values
    were primed.
    """
    windows: dict[tuple, set[str]] = defaultdict(set)
    billed: list[tuple[int, datetime]] = []
    meters = {}
    for subscription in subscriptions:
        start, end = subscription.current_period_start, subscription.current_period_end
        if start is None or end > at:
            continue
        phases = [
            phase
            for phase in subscription_phases(subscription=subscription)
            if phase.starts_at < end and (phase.ends_at is None or phase.ends_at > start)
        ]
        if len(phases) != 1 or phases[0].starts_at > start:
            continue  # a plan change inside the period: read as the builder goes
        ctx.plans.prime([phases[0].plan])
        billed.append((subscription.pk, start))
        for priced in ctx.plans.charges(phases[0].plan):
            meter = priced.meter
            meters[meter.pk] = meter
            # The ledger's accumulation window (invoices.services.ledger).
            window_start = phases[0].starts_at if meter.reset == MeterReset.NEVER else start
            windows[(meter.pk, window_start, end)].add(subscription.customer.external_id)
    ctx.billed.prime(billed)  # what the ledger holds of those periods, in one query
    ctx.prime_prepaid([subscription_id for subscription_id, _ in billed])
    return usage_prime_windows(ctx=ctx, windows=windows, meters=meters)


def usage_prime_windows(*, ctx: BuildContext, windows: dict[tuple, set[str]], meters: dict) -> int:
    """Read {(meter id, start, end): customer ids} in one query per window (and chunk of ids)
    into ctx.usage; `meters` maps the ids to their Meter. Returns how many values were primed."""
    primed = 0
    for (meter_id, start, end), customer_ids in windows.items():
        ids = sorted(customer_ids)
        for offset in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[offset : offset + IDS_PER_QUERY]
            found = usage_by_customer(
                meter=meters[meter_id], external_customer_ids=chunk, start=start, end=end
            )
            for customer_id in chunk:
                ctx.usage.prime(
                    (meter_id, customer_id, start, end), found.get(customer_id, NO_USAGE)
                )
                primed += 1
    return primed


def usage_prime_period(
    *,
    ctx: BuildContext,
    subscription: Subscription,
    start: datetime,
    end: datetime,
    usage_until: datetime,
) -> int:
    """Read ahead, in one round of queries (metering's usage_for_windows), the usage every
    charge of [start, end) of the current period reads for the upcoming invoice: each plan
    change's slice up to its end (the change's invoice), the last slice up to `usage_until`.
    A window guessed wrong costs one read of its own later, never a wrong figure: the builder
    reads a window it finds primed under exactly its (meter, customer, start, end).
    Returns how many windows were read."""
    slices = subscription_phases_for_period(
        subscription=subscription, period_start=start, period_end=end
    )
    ctx.plans.prime([piece.plan for piece in slices])
    windows = []
    for piece in slices:
        until = piece.end if piece.end < end else min(piece.end, usage_until)
        for priced in ctx.plans.charges(piece.plan):
            window_start = accumulation_start(priced=priced, piece=piece)
            windows.append((priced.meter, window_start, max(window_start, until)))
    customer_id = subscription.customer.external_id
    found = usage_for_windows(external_customer_id=customer_id, windows=windows)
    for (meter_id, window_start, window_end), usage in found.items():
        ctx.usage.prime((meter_id, customer_id, window_start, window_end), usage)
    return len(found)
