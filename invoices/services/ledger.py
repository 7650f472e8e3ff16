"""The charge ledger: what a charge owes for a slice of a billing period, and what is billed of it.

The one place that prices usage (docs/architecture.md, "The charge ledger"). A billing period is
cut into slices, one per plan version in effect during it; a charge of that plan owes, for its
slice, the price of the usage of its accumulation window:

- `reset = period`: the slice itself, [slice start, slice end): everything restarts each period
  and with each plan version;
- `reset = never`: from the start of the subscription's phase on that plan version to the slice
  end: the quantity carries over from period to period (seats, GB stored), and a plan change
  starts it afresh, so no usage is counted on two plans.

Free units, the minimum and the cap are per-period quantities: the slice gets its share of each
(seconds of the slice / seconds of the full period). During the period the minimum is left out
(`final=False`: on-demand invoices bill what the usage costs so far); the invoice that closes the
slice applies it (`final=True`). Every invoice line bills round(owed) − billed so far, so the
lines of a slice add up to its price rounded once. A free trial owes nothing for its usage
unless the plan says `trial_bills_usage`.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from catalog.currencies import currency_exponent
from catalog.models import MeterReset
from customers.models import Subscription
from customers.selectors import PhaseSlice
from invoices.models import LineKind
from invoices.services.drafts import DraftLine
from invoices.services.inputs import Billed, BuildContext, PricedCharge, SliceKey, unit_amount_of
from metering.selectors import Usage
from rating import (
    Rating,
    allowances_share,
    breakdown_difference,
    rate,
    round_money,
    without_minimum,
)
from rating.money import decimal_string

ZERO = Decimal("0")


@dataclass(frozen=True)
class Owed:
    """What one charge owes for one slice, with the usage priced up to `until`."""

    key: SliceKey
    priced: PricedCharge
    piece: PhaseSlice
    window_start: datetime
    until: datetime
    usage: Usage
    rating: Rating | None  # None during a free trial
    amount: Decimal  # rounded once, to the currency
    final: bool

    @property
    def free_trial(self) -> bool:
        return self.rating is None


def accumulation_start(*, priced: PricedCharge, piece: PhaseSlice) -> datetime:
    """Where the charge's usage accumulates from, for this slice (see the module docstring)."""
    return piece.phase_start if priced.meter.reset == MeterReset.NEVER else piece.start


def charge_owed(
    *,
    subscription: Subscription,
    period_start: datetime,
    piece: PhaseSlice,
    priced: PricedCharge,
    until: datetime,
    ctx: BuildContext,
    trial: bool,
    final: bool,
) -> Owed:
    """What `priced` owes for the slice `piece` of the period starting at `period_start`,
    counting the usage up to `until` (clipped to the slice)."""
    window_start = accumulation_start(priced=priced, piece=piece)
    window_end = max(window_start, min(until, piece.end))
    usage = ctx.usage.read(
        meter=priced.meter,
        external_customer_id=subscription.customer.external_id,
        start=window_start,
        end=window_end,
    )
    key = SliceKey(subscription.pk, priced.charge.pk, period_start, piece.start)
    common = {
        "key": key,
        "priced": priced,
        "piece": piece,
        "window_start": window_start,
        "until": window_end,
        "usage": usage,
        "final": final,
    }
    if trial and not piece.plan.trial_bills_usage:
        return Owed(rating=None, amount=ZERO, **common)
    spec = allowances_share(priced.spec, fraction=piece.fraction)
    if not final:
        spec = without_minimum(spec)
    rating = rate(spec, usage.quantity, event_count=usage.event_count)
    exponent = currency_exponent(piece.plan.currency)
    return Owed(rating=rating, amount=round_money(rating.amount, exponent=exponent), **common)


def billed_before(owed: Owed, ctx: BuildContext, *, excluding_line: int | None = None) -> Billed:
    """What the ledger billed of the slice before `owed` (a line being refreshed left out):
    the amounts summed, and the usage the last of those entries priced."""
    entries = [
        entry
        for entry in ctx.billed.entries(owed.key)
        if excluding_line is None or entry.line_id != excluding_line
    ]
    amount = sum((entry.amount for entry in entries), ZERO)
    last = max(entries, key=lambda entry: entry.usage_until, default=None)
    if last is None:
        return Billed(owed.window_start, ZERO, 0, amount)
    return Billed(last.usage_until, last.quantity, last.event_count, amount)


def ledger_breakdown(owed: Owed, before: Billed) -> dict:
    """The breakdown stored on a usage line: the slice's rating so far and what was billed."""
    if owed.rating is None:
        breakdown = {
            "quantity": decimal_string(owed.usage.quantity),
            "free_units": "0",
            "billable_quantity": "0",
            "amount": "0",
            "breakdown": [],
            "free_trial": True,
        }
    else:
        breakdown = owed.rating.as_dict()
    breakdown.update(
        {
            "event_count": owed.usage.event_count,
            "window_start": owed.window_start.isoformat(),
            "owed": decimal_string(owed.amount),
            "billed_before": decimal_string(before.amount),
            "cumulative_before": decimal_string(before.quantity),
            "cumulative_after": decimal_string(owed.usage.quantity),
            "share": decimal_string(owed.piece.fraction),
            "final": owed.final,
        }
    )
    return breakdown


def ledger_line(owed: Owed, before: Billed, *, suffix: str = "") -> DraftLine:
    """The usage line that bills what the slice owes beyond what was billed of it before.

    Its quantity is the usage added since the last entry of the slice, over the window
    [last entry's end, until): for the first (or only) line of a slice, the whole window. Its
    breakdown shows the tier rows of that usage (the difference from the last entry's rating).
    """
    priced = owed.priced
    rows = ()
    if owed.rating is not None:
        rows = owed.rating.breakdown
        if before.quantity or before.event_count:
            spec = without_minimum(allowances_share(priced.spec, fraction=owed.piece.fraction))
            earlier = rate(spec, before.quantity, event_count=before.event_count)
            rows = breakdown_difference(owed.rating, earlier)
    breakdown = ledger_breakdown(owed, before)
    breakdown["breakdown"] = [row.as_dict() for row in rows]
    name = (priced.charge.description or priced.meter.name) + suffix
    if owed.free_trial:
        name += " (free trial)"
    elif before.amount and owed.final:
        name += ", rest of the period"
    return DraftLine(
        kind=LineKind.USAGE,
        description=name,
        amount=owed.amount - before.amount,
        quantity=owed.usage.quantity - before.quantity,
        unit_amount=unit_amount_of(priced),
        plan=priced.charge.plan,
        charge=priced.charge,
        meter=priced.meter,
        breakdown=breakdown,
        usage_start=before.usage_until,
        usage_end=owed.until,
        owed=owed,
        before=before,
    )
