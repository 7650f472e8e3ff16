"""Reads of the invoices app: invoice lists, a line's events, the upcoming invoice, the dry run.

The upcoming invoice and the dry run call the same builder as the cycle close
(invoices.services.steps / builder) and write nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from billing.compiled import compiled_instances, prefetched
from catalog.models import TaxRate
from customers.models import (
    LIVE_STATUSES,
    AppliedCoupon,
    Customer,
    Subscription,
    SubscriptionPhase,
)
from invoices.models import CreditNote, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from invoices.services.cycles import MAX_STEPS, subscription_ids_to_bill
from invoices.services.drafts import InvoiceDraft, draft_make
from invoices.services.inputs import BuildContext, prepaid_fee_of
from invoices.services.on_demand import (
    ledger_record,
    on_demand_drafts,
    on_demand_subscription_ids,
)
from invoices.services.prefetch import usage_prime_period
from invoices.services.steps import (
    StepKind,
    billing_state,
    next_step,
    state_after,
    step_build,
)
from metering.models import Event
from metering.selectors import events_for_usage, usage_for_period


class NoUpcomingInvoice(Exception):
    """The customer has no subscription with a period left to bill."""


# --- invoices -----------------------------------------------------------------------------------


def invoice_list(
    *, customer_external_id: str = "", status: str = "", kind: str = ""
) -> QuerySet[Invoice]:
    """Invoices, newest first, optionally for one customer (external id), status or kind."""
    invoices = Invoice.objects.select_related("customer")
    if customer_external_id:
        invoices = invoices.filter(customer__external_id=customer_external_id)
    if status:
        invoices = invoices.filter(status=status)
    if kind:
        invoices = invoices.filter(kind=kind)
    return invoices.prefetch_related(_lines_prefetch()).order_by("-created_at", "-id")


def credit_note_list(
    *, customer_external_id: str = "", invoice_id: int | None = None, status: str = ""
) -> QuerySet[CreditNote]:
    """Credit notes, newest first, optionally for one customer, invoice or status."""
    notes = CreditNote.objects.select_related("customer", "invoice").prefetch_related("lines")
    if customer_external_id:
        notes = notes.filter(customer__external_id=customer_external_id)
    if invoice_id is not None:
        notes = notes.filter(invoice_id=invoice_id)
    if status:
        notes = notes.filter(status=status)
    return notes.order_by("-issued_at", "-id")


def invoice_get(*, invoice_id: int) -> Invoice:
    """One invoice with its customer and lines; raises Invoice.DoesNotExist."""
    return (
        Invoice.objects.select_related("customer", "subscription")
        .prefetch_related(_lines_prefetch())
        .get(pk=invoice_id)
    )


def _lines_prefetch() -> Prefetch:
    return Prefetch(
        "lines", queryset=InvoiceLine.objects.select_related("meter").order_by("position", "id")
    )


@dataclass(frozen=True)
class LineEvents:
    """The exact events behind a usage line, and their aggregation (= the line's quantity)."""

    line: InvoiceLine
    external_customer_id: str
    start: datetime
    end: datetime
    events: QuerySet[Event]
    quantity: Decimal
    event_count: int


def invoice_line_events(*, invoice_id: int, line_id: int) -> LineEvents:
    """The events behind one usage line; raises InvoiceLine.DoesNotExist (also for fee lines)."""
    line = InvoiceLine.objects.select_related("invoice__customer", "meter").get(
        pk=line_id,
        invoice_id=invoice_id,
        kind=LineKind.USAGE,
        meter__isnull=False,
        usage_start__isnull=False,
        usage_end__isnull=False,
    )
    customer_id = line.invoice.customer.external_id
    window = {
        "meter": line.meter,
        "external_customer_id": customer_id,
        "start": line.usage_start,
        "end": line.usage_end,
    }
    usage = usage_for_period(**window)
    return LineEvents(
        line=line,
        external_customer_id=customer_id,
        start=line.usage_start,
        end=line.usage_end,
        events=events_for_usage(**window).order_by("timestamp", "id"),
        quantity=usage.quantity,
        event_count=usage.event_count,
    )


# --- previews -----------------------------------------------------------------------------------


def _billable_subscription(customer: Customer) -> Subscription | None:
    """The customer's live subscription, else the latest one with a period still unbilled."""
    # Both reads compiled once (billing.compiled): the upcoming invoice's Python is mostly
    # the ORM compiling its reads (docs/performance.md, "The upcoming invoice's Python").
    subscriptions = compiled_instances(
        key=("billable subscriptions",),
        build=lambda values: (
            Subscription.objects.filter(customer_id=values[0], current_period_start__isnull=False)
            .select_related("customer", "plan")
            .order_by("-started_at", "-id")
        ),
        values=[customer.pk],
    )
    _phases_prefetch(subscriptions)
    live = [sub for sub in subscriptions if sub.status in LIVE_STATUSES]
    return live[0] if live else next(iter(subscriptions), None)


def _phases_prefetch(subscriptions: list[Subscription]) -> None:
    """prefetch_related("phases") with their plans, in one compiled read."""
    if not subscriptions:
        return
    ids = [subscription.pk for subscription in subscriptions]
    phases = compiled_instances(
        key=("subscription phases", len(ids)),
        build=lambda values: (
            SubscriptionPhase.objects.filter(subscription_id__in=values)
            .select_related("plan")
            .order_by("starts_at")
        ),
        values=ids,
    )
    by_subscription: dict[int, list[SubscriptionPhase]] = {pk: [] for pk in ids}
    for phase in phases:
        by_subscription[phase.subscription_id].append(phase)
    for subscription in subscriptions:
        prefetched(subscription, "phases", by_subscription[subscription.pk])


def _adjustments_prefetch(subscription: Subscription) -> None:
    """prefetch_related("customer__coupons", "customer__tax_rates", "plan__tax_rates"), each
    read compiled once (billing.compiled)."""
    customer, plan = subscription.customer, subscription.plan
    reads = [
        (customer, "coupons", lambda values: AppliedCoupon.objects.filter(customer_id=values[0])),
        (customer, "tax_rates", lambda values: TaxRate.objects.filter(customers__id=values[0])),
        (plan, "tax_rates", lambda values: TaxRate.objects.filter(plans__id=values[0])),
    ]
    for owner, name, build in reads:
        related = compiled_instances(
            key=("adjustments", type(owner).__name__, name), build=build, values=[owner.pk]
        )
        prefetched(owner, name, related)


# The upcoming invoices priced in the current `upcoming_invoices_shared()` block, by
# (customer id, subscription id, moment); None outside any block.
_shared_upcoming: ContextVar[dict | None] = ContextVar("shared_upcoming", default=None)


@contextmanager
def upcoming_invoices_shared() -> Iterator[None]:
    """Within the block, `upcoming_invoice` prices a customer (or subscription) once per moment
    and hands the same draft (or the same NoUpcomingInvoice) to every later caller: a page that
    shows the upcoming invoice in several panels (the total, the wallet's ongoing balance) prices
    the period once. Nothing is kept after the block."""
    token = _shared_upcoming.set({})
    try:
        yield
    finally:
        _shared_upcoming.reset(token)


def upcoming_invoice(
    *,
    at: datetime,
    customer: Customer | None = None,
    subscription: Subscription | None = None,
) -> InvoiceDraft:
    """The upcoming invoice (`_upcoming_invoice`), priced once per moment inside an
    `upcoming_invoices_shared()` block."""
    shared = _shared_upcoming.get()
    if shared is None:
        return _upcoming_invoice(at=at, customer=customer, subscription=subscription)
    key = (getattr(customer, "pk", None), getattr(subscription, "pk", None), at)
    if key not in shared:
        try:
            shared[key] = _upcoming_invoice(at=at, customer=customer, subscription=subscription)
        except NoUpcomingInvoice as error:
            shared[key] = error
    found = shared[key]
    if isinstance(found, NoUpcomingInvoice):
        raise found
    return found


def _upcoming_invoice(
    *,
    at: datetime,
    customer: Customer | None = None,
    subscription: Subscription | None = None,
) -> InvoiceDraft:
    """Everything the next closes will bill for the current period, with usage up to `at`, as
    the lines of one unsaved invoice: a plan change's invoice (the old plan's slice, the credit
    for its unused in-advance fee, the new plan's prorated fee) and the period's close. Its total
    equals the sum of what the cycle close then issues for that period.

    Raises NoUpcomingInvoice when there is no period left to bill.
    """
    if subscription is None:
        if customer is None:
            raise TypeError("upcoming_invoice needs a customer or a subscription.")
        subscription = _billable_subscription(customer)
        if subscription is None:
            raise NoUpcomingInvoice(
                f"Customer '{customer.external_id}' has no active subscription: "
                "there is no upcoming invoice."
            )
    state = billing_state(subscription=subscription)
    if state.cycle_start is None:
        raise NoUpcomingInvoice(
            f"Subscription #{subscription.pk} has no period left to bill: "
            "there is no upcoming invoice."
        )
    ctx = BuildContext()
    cycle_start, cycle_end = state.cycle_start, state.cycle_end
    # Every charge's usage in one round of queries, and the customer's coupons and tax rates
    # once (each step's draft and the preview's own total read them).
    usage_prime_period(
        ctx=ctx, subscription=subscription, start=state.billed_from, end=cycle_end, usage_until=at
    )
    _adjustments_prefetch(subscription)
    lines = []
    # The steps the close will take for this period, up to its end: its plan changes, then it.
    for _ in range(MAX_STEPS):
        step = next_step(subscription=subscription, state=state, at=cycle_end)
        if step is None or step.kind == StepKind.OPENING:
            if step is None:
                break
            state = state_after(subscription=subscription, state=state, step=step)
            continue
        draft = step_build(subscription=subscription, step=step, ctx=ctx, usage_until=at)
        _simulate_billed(subscription, draft, ctx)
        lines += draft.lines
        if step.kind == StepKind.PERIOD_CLOSE:
            break
        state = state_after(subscription=subscription, state=state, step=step)
    return draft_make(
        subscription=subscription,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=cycle_start,
        period_end=cycle_end,
        lines=lines,
    )


def _simulate_billed(subscription: Subscription, draft: InvoiceDraft, ctx: BuildContext) -> None:
    """What a computed (unsaved) invoice bills, counted in `ctx` as if it were saved."""
    ledger_record(draft=draft, ctx=ctx)
    ctx.prepaid_fees(subscription).extend(
        prepaid_fee_of(line)
        for line in draft.lines
        if line.kind in (LineKind.BASE_FEE, LineKind.PRORATION_CHARGE)
        and line.breakdown.get("timing") == "in_advance"
    )


def subscription_invoices_due(
    *, subscription: Subscription, at: datetime, ctx: BuildContext
) -> list[InvoiceDraft]:
    """The invoices the close would issue for the subscription at `at`, in order; unsaved.

    Like one close run, at most MAX_STEPS of them.
    """
    drafts = []
    state = billing_state(subscription=subscription)
    for _ in range(MAX_STEPS):
        step = next_step(subscription=subscription, state=state, at=at)
        if step is None:
            break
        ctx.prepaid_fees(subscription)  # read before the simulated ones are added
        draft = step_build(subscription=subscription, step=step, ctx=ctx)
        if draft is not None:
            drafts.append(draft)
            _simulate_billed(subscription, draft, ctx)
        state = state_after(subscription=subscription, state=state, step=step)
    return drafts


def cycles_close_preview(*, at: datetime) -> list[InvoiceDraft]:
    """What `cycles_close(at=at)` would invoice (close_cycles --dry-run), writing nothing."""
    ctx = BuildContext()
    drafts = []
    ids = subscription_ids_to_bill(at=at)
    for subscription in _subscriptions(ids):
        drafts += subscription_invoices_due(subscription=subscription, at=at, ctx=ctx)
    for subscription in _subscriptions(on_demand_subscription_ids(at=at)):
        drafts += on_demand_drafts(subscription=subscription, at=at, ctx=ctx)
    return drafts


def _subscriptions(ids: list[int]) -> list[Subscription]:
    return list(
        Subscription.objects.filter(pk__in=ids)
        .select_related("customer", "plan")
        .prefetch_related(
            Prefetch(
                "phases",
                queryset=SubscriptionPhase.objects.select_related("plan").order_by("starts_at"),
            )
        )
        .order_by("pk")
    )


def events_unbilled_reason(*, start: datetime, end: datetime, at: datetime) -> str:
    """Why events timestamped in [start, end) may still be billed or re-read, '' when none.

    The rule that keeps a month of events attached (docs/operations.md, "Event partitions"):
    held while any subscription's current (not yet closed) period starts before `end`, any
    draft subscription invoice's period does, or any subscription invoice of such a period was
    issued within the daily verification's window (it recomputes them from their events).
    """
    from invoices.tasks import VERIFY_LOOKBACK

    open_periods = Subscription.objects.filter(
        current_period_start__isnull=False, current_period_start__lt=end
    )
    first = open_periods.order_by("current_period_start", "pk").first()
    if first is not None:
        return (
            f"{open_periods.count()} subscription(s) have a period not yet closed that starts "
            f"before the month's end (e.g. subscription {first.pk}, since "
            f"{first.current_period_start.isoformat()})"
        )
    periods = Invoice.objects.filter(
        subscription__isnull=False, period_start__isnull=False, period_start__lt=end
    )
    drafts = periods.filter(status=InvoiceStatus.DRAFT).count()
    if drafts:
        return f"{drafts} draft invoice(s) bill a period starting before the month's end"
    recent = periods.filter(issued_at__gte=at - VERIFY_LOOKBACK).count()
    if recent:
        return (
            f"{recent} invoice(s) of a period starting before the month's end were issued less "
            f"than {VERIFY_LOOKBACK.days} days ago (the daily verification reads their events)"
        )
    return ""
