"""What the invoice builder reads: plans' charges, usage, what the ledger says was billed, and
the fees already billed in advance.

The builder reads only through a `BuildContext`, so the cycle close can prime it with bulk
reads (all due customers' usage in one query per meter and window) while the preview and the
dry run read one value at a time, through the same code.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from billing.compiled import compiled_instances, compiled_rows, prefetched
from catalog.models import BaseTiming, Cadence, Charge, Meter, Plan, PricingModel, Tier
from catalog.selectors import charge_spec
from customers.models import Subscription
from invoices.models import InvoiceLine, InvoiceStatus, LedgerEntry, LineKind
from metering.selectors import Usage, usage_for_period
from rating import ChargeSpec


@dataclass(frozen=True)
class PricedCharge:
    """A stored charge with its meter and its rating spec."""

    charge: Charge
    meter: Meter
    spec: ChargeSpec

    @property
    def is_on_demand(self) -> bool:
        return self.charge.cadence == Cadence.ON_DEMAND


@dataclass(frozen=True)
class PrepaidFee:
    """A fee billed in advance for [start, end): a base fee or an upgrade's proration charge.

    `unit_amount` is the plan's fee for a full period of `period_seconds`; a credit for the
    unused part from s is unit_amount × (end − s) / period_seconds, the rate it was charged at.
    """

    plan_id: int
    start: datetime
    end: datetime
    unit_amount: Decimal
    period_seconds: Decimal


def unit_amount_of(priced: PricedCharge) -> Decimal | None:
    """The line's unit price: a per-unit charge's price; tiered and other models show None."""
    return priced.charge.unit_amount if priced.charge.model == PricingModel.PER_UNIT else None


class PlanBook:
    """Each plan version's charges, loaded once per run (plan versions in use never change)."""

    def __init__(self) -> None:
        self._charges: dict[int, list[PricedCharge]] = {}

    def charges(self, plan: Plan) -> list[PricedCharge]:
        if plan.pk not in self._charges:
            rows = (
                Charge.objects.filter(plan_id=plan.pk)
                .select_related("meter")
                .prefetch_related("tiers")
                .order_by("position", "id")
            )
            self._charges[plan.pk] = [_priced(row, plan) for row in rows]
        return self._charges[plan.pk]

    def prime(self, plans: Iterable[Plan]) -> None:
        """Load the charges of many plans in three queries."""
        missing = {plan.pk: plan for plan in plans if plan.pk not in self._charges}
        if not missing:
            return
        # Compiled once per number of plans (billing.compiled), the tiers read apart as
        # prefetch_related("tiers") would: the preview primes its plans on every call.
        plan_ids = sorted(missing)
        rows = compiled_instances(
            key=("plan charges", len(plan_ids)),
            build=lambda values: (
                Charge.objects.filter(plan_id__in=values)
                .select_related("meter")
                .order_by("plan_id", "position", "id")
            ),
            values=plan_ids,
        )
        tiers: dict[int, list[Tier]] = {row.pk: [] for row in rows}
        if rows:
            charge_ids = sorted(tiers)
            for tier in compiled_instances(
                key=("charge tiers", len(charge_ids)),
                build=lambda values: Tier.objects.filter(charge_id__in=values),
                values=charge_ids,
            ):
                tiers[tier.charge_id].append(tier)
        for plan_id in missing:
            self._charges[plan_id] = []
        for row in rows:
            prefetched(row, "tiers", tiers[row.pk])
            self._charges[row.plan_id].append(_priced(row, missing[row.plan_id]))


def _priced(row: Charge, plan: Plan) -> PricedCharge:
    row.plan = plan  # the version already loaded: no query per line
    return PricedCharge(charge=row, meter=row.meter, spec=charge_spec(charge=row))


UsageKey = tuple[int, str, datetime, datetime]


class UsageReader:
    """Usage of one meter for one customer over [start, end), through metering's selectors.

    `prime` stores values read in bulk; a window not primed is read on its own.
    """

    def __init__(self) -> None:
        self._known: dict[UsageKey, Usage] = {}

    def read(
        self, *, meter: Meter, external_customer_id: str, start: datetime, end: datetime
    ) -> Usage:
        key = (meter.pk, external_customer_id, start, end)
        usage = self._known.get(key)
        if usage is None:
            usage = usage_for_period(
                meter=meter, external_customer_id=external_customer_id, start=start, end=end
            )
        return usage

    def prime(self, key: UsageKey, usage: Usage) -> None:
        self._known[key] = usage

    def forget(self) -> None:
        self._known.clear()


@dataclass(frozen=True)
class SliceKey:
    """One charge in one slice of one billing period: the ledger's unit of account."""

    subscription_id: int
    charge_id: int
    period_start: datetime
    slice_start: datetime


@dataclass(frozen=True)
class Billed:
    """One ledger entry as the builder reads it: what a line billed, up to which moment."""

    usage_until: datetime
    quantity: Decimal
    event_count: int
    amount: Decimal
    line_id: int | None = None


_LEDGER_COLUMNS = (
    "subscription_id",
    "charge_id",
    "period_start",
    "slice_start",
    "usage_until",
    "quantity",
    "event_count",
    "amount",
    "line_id",
)


class BilledBook:
    """What the ledger holds per slice key, read once per (subscription, period) and kept in step
    with what this run writes (or, in a dry run, simulates). Kept per subscription, so that
    forgetting one after a write costs nothing whatever the size of the run."""

    def __init__(self) -> None:
        self._entries: dict[int, dict[SliceKey, list[Billed]]] = {}
        self._loaded: dict[int, set[datetime]] = {}

    def prime(self, pairs: Iterable[tuple[int, datetime]]) -> None:
        """Read the entries of many (subscription id, period start) pairs in one query."""
        missing = {pair for pair in pairs if pair[1] not in self._loaded.get(pair[0], ())}
        if not missing:
            return
        subscriptions = sorted({sub for sub, _ in missing})
        starts = sorted({start for _, start in missing})

        def build(values):
            return (
                LedgerEntry.objects.filter(
                    subscription_id__in=values[: len(subscriptions)],
                    period_start__in=values[len(subscriptions) :],
                )
                .exclude(invoice__status=InvoiceStatus.VOID)
                .values_list(*_LEDGER_COLUMNS)
                .order_by("usage_until", "id")
            )

        rows = compiled_rows(
            key=("ledger entries", len(subscriptions), len(starts)),
            build=build,
            values=[*subscriptions, *starts],
        )
        for sub, charge, period_start, slice_start, until, quantity, events, amount, line in rows:
            if (sub, period_start) in missing:
                key = SliceKey(sub, charge, period_start, slice_start)
                self._entries.setdefault(sub, {}).setdefault(key, []).append(
                    Billed(until, quantity, events, amount, line)
                )
        for sub, period_start in missing:
            self._loaded.setdefault(sub, set()).add(period_start)

    def entries(self, key: SliceKey) -> list[Billed]:
        self.prime([(key.subscription_id, key.period_start)])
        return self._entries.get(key.subscription_id, {}).get(key, [])

    def add(self, key: SliceKey, billed: Billed) -> None:
        """Record an entry a dry run simulated (a real write calls `forget` instead)."""
        self.prime([(key.subscription_id, key.period_start)])
        self._entries.setdefault(key.subscription_id, {}).setdefault(key, []).append(billed)

    def forget(self, subscription_id: int) -> None:
        """Drop what is known of a subscription (read again after a write)."""
        self._loaded.pop(subscription_id, None)
        self._entries.pop(subscription_id, None)


@dataclass
class BuildContext:
    """Everything the builder reads besides the subscription itself.

    `prepaid` holds the fees already billed in advance per subscription id; `None` for a
    subscription means "read them from its invoices" (the dry run adds the simulated ones).
    """

    plans: PlanBook = field(default_factory=PlanBook)
    usage: UsageReader = field(default_factory=UsageReader)
    billed: BilledBook = field(default_factory=BilledBook)
    prepaid: dict[int, list[PrepaidFee]] = field(default_factory=dict)

    def prime_prepaid(self, subscription_ids: list[int]) -> None:
        """Read the prepaid fees of many subscriptions in one query."""
        missing = [pk for pk in subscription_ids if pk not in self.prepaid]
        if missing:
            found = prepaid_fees_of_many(subscription_ids=missing)
            for pk in missing:
                self.prepaid[pk] = found.get(pk, [])

    def prepaid_fees(self, subscription: Subscription) -> list[PrepaidFee]:
        if subscription.pk not in self.prepaid:
            self.prepaid[subscription.pk] = prepaid_fees_billed(subscription=subscription)
        return self.prepaid[subscription.pk]


def prepaid_fees_billed(*, subscription: Subscription) -> list[PrepaidFee]:
    """The in-advance fees on the subscription's invoices that are not void."""
    return prepaid_fees_of_many(subscription_ids=[subscription.pk]).get(subscription.pk, [])


def prepaid_fees_of_many(*, subscription_ids: list[int]) -> dict[int, list[PrepaidFee]]:
    """prepaid_fees_billed of many subscriptions in one query: {subscription id: fees}."""
    ids = sorted(set(subscription_ids))

    def build(values):
        return (
            InvoiceLine.objects.filter(
                invoice__subscription_id__in=values,
                kind__in=[LineKind.BASE_FEE, LineKind.PRORATION_CHARGE],
                plan__base_timing=BaseTiming.IN_ADVANCE,
                usage_start__isnull=False,
                usage_end__isnull=False,
            )
            .exclude(invoice__status=InvoiceStatus.VOID)
            .values_list(
                "invoice__subscription_id",
                "plan_id",
                "usage_start",
                "usage_end",
                "unit_amount",
                "breakdown",
            )
        )

    # Compiled once per number of subscriptions (billing.compiled): the preview reads one.
    rows = compiled_rows(key=("prepaid fees", len(ids)), build=build, values=ids)
    fees: dict[int, list[PrepaidFee]] = {}
    for subscription_id, plan_id, start, end, unit_amount, breakdown in rows:
        fees.setdefault(subscription_id, []).append(
            PrepaidFee(plan_id, start, end, unit_amount, Decimal(breakdown["period_seconds"]))
        )
    return fees


def prepaid_fee_of(line) -> PrepaidFee:
    """The PrepaidFee a saved or draft fee line stands for."""
    return PrepaidFee(
        plan_id=line.plan_id if hasattr(line, "plan_id") else line.plan.pk,
        start=line.usage_start,
        end=line.usage_end,
        unit_amount=line.unit_amount,
        period_seconds=Decimal(line.breakdown["period_seconds"]),
    )


def prepaid_covering(fees: list[PrepaidFee], *, plan: Plan, moment: datetime) -> PrepaidFee | None:
    """The latest fee of `plan` billed in advance over a window running on past `moment`."""
    covering = [fee for fee in fees if fee.plan_id == plan.pk and fee.start < moment < fee.end]
    return max(covering, key=lambda fee: fee.start, default=None)
