"""The cycle close: every invoice due at `at`, issued exactly once, in order, then the drafts.

One run (`cycles_close`) does, in this order:
1. for each subscription with something due, the steps of invoices.services.steps (opening,
   plan changes inside a period, closed periods — a backdated subscription catches up period
   by period) under the subscription's row lock; by batches whose usage is read ahead in one
   query per meter (invoices.services.prefetch), the periods with nothing else to do closed
   WRITE_BATCH subscriptions per transaction, the rest one step per transaction;
1b. the voided invoices whose reissue was asked for (invoices.services.reissue);
2. the on-demand windows that closed (invoices.services.on_demand);
3. the drafts in grace: refreshed from current usage, finalized once grace_until <= at;
4. the late events flagged (invoices.services.late_events).

Exactly once: each invoice is created in transaction.atomic with select_for_update on the
subscription row and the state re-read after locking, so a second worker waits and then finds
nothing due; the unique constraint (subscription, period, kind) is the last line of defence.
A crash rolls the whole transaction back (invoices, lines, numbers and period advances). On the
batch path the invoices are committed as drafts with the period advances, then numbered and
finalized in a short transaction of their own (the year's number row, which every finalization
waits for, is then held for that only); a crash in between leaves drafts whose grace is over,
which step 3 finalizes (docs/scaling.md, "Cycle close across machines").
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q

from catalog.models import BaseTiming, Plan
from customers.models import Subscription, SubscriptionPhase
from customers.selectors import subscription_phases, subscriptions_due
from customers.services import subscription_advance_period, subscriptions_advance_periods
from invoices.models import Invoice, InvoiceKind
from invoices.services.blocks import billing_block_record
from invoices.services.drafts import InvoiceDraft
from invoices.services.grace import drafts_settle
from invoices.services.inputs import BuildContext
from invoices.services.late_events import events_flag_late
from invoices.services.on_demand import on_demand_drafts, on_demand_subscription_ids
from invoices.services.persist import (
    invoice_create_from_draft,
    invoices_create_from_drafts,
    invoices_finalize_saved,
    invoices_save_as_drafts,
)
from invoices.services.prefetch import usage_prime_due
from invoices.services.reissue import invoices_reissue_due
from invoices.services.steps import (
    StepKind,
    billing_state,
    next_step,
    step_build,
)
from invoices.services.workers import subscriptions_bill_in_processes, subscriptions_bill_in_tasks
from rating import RatingError

logger = logging.getLogger(__name__)

# Invoices issued per subscription per run at most: a minute plan left alone for weeks catches
# up over several runs instead of holding one run (and the schedule) for minutes.
MAX_STEPS = 1_000
# Subscriptions whose usage is read ahead together (one query per meter and window).
BATCH = 1_000
# Subscriptions whose periods are closed in one transaction: their rows stay locked for it,
# so it stays short (a plan change through the API waits at most that long: about half a
# second of the close's CPU since the inserts go through COPY); each commit waits for the
# disk, so not too many of them either (docs/performance.md, "Cycle close").
WRITE_BATCH = 250

# Bad data (a charge rating refuses, a period customers cannot compute) stops one subscription
# for this run and is reported; the others are still billed. The run's loops also catch
# anything unexpected (logged with its traceback, reported): one subscription never holds up
# everyone's invoices.
RECOVERABLE = (RatingError, ValidationError, ValueError)


@dataclass
class CloseReport:
    """What one run did: invoices created and finalized, drafts refreshed, late events, errors."""

    at: datetime
    created: list[Invoice] = field(default_factory=list)
    finalized: list[Invoice] = field(default_factory=list)
    refreshed: int = 0
    late_events: int = 0
    errors: list[str] = field(default_factory=list)
    # (subscriptions, tasks) handed to the task cluster: their invoices are not in `created`.
    queued: tuple[int, int] = (0, 0)

    def summary(self) -> str:
        queued = ""
        if self.queued[1]:
            queued = f"{self.queued[0]} subscription(s) queued in {self.queued[1]} task(s), "
        return (
            f"Cycle close at {self.at.isoformat()}: {queued}{len(self.created)} invoice(s) "
            f"created, {len(self.finalized)} finalized, {self.refreshed} draft(s) refreshed, "
            f"{self.late_events} late event(s) flagged, {len(self.errors)} error(s)."
        )


# A subscription's phases in time order, their plans joined in memory (_sharing_plans).
PHASES = Prefetch("phases", queryset=SubscriptionPhase.objects.order_by("starts_at"))


def _with_plans(subscriptions) -> list[Subscription]:
    """What reading usage ahead needs: customers, plans and phases (invoices.services.prefetch)."""
    return _sharing_plans(list(subscriptions.select_related("customer").prefetch_related(PHASES)))


def _with_phases(subscriptions) -> list[Subscription]:
    """Also what building the invoices reads: taxes and coupons (invoices.services.adjustments)."""
    rows = subscriptions.select_related("customer").prefetch_related(
        PHASES, "customer__tax_rates", "customer__coupons"
    )
    return _sharing_plans(list(rows), tax_rates=True)


def _sharing_plans(subscriptions: list[Subscription], *, tax_rates: bool = False) -> list:
    """Give the subscriptions and their phases one instance per plan version, read in one query
    (with its tax rates, when asked). Joined to each row, every subscription and every phase had
    a copy of its plan, and the plan's tax rates were prefetched for every copy: a quarter of the
    locked read's CPU (docs/performance.md, "Cycle close"). Plan versions in use never change;
    the rows, phases, customers, tax rates and coupons are read after the lock as before."""
    plan_ids = {subscription.plan_id for subscription in subscriptions}
    plan_ids.update(
        phase.plan_id for subscription in subscriptions for phase in subscription.phases.all()
    )
    plans = Plan.objects.filter(pk__in=plan_ids)
    if tax_rates:
        plans = plans.prefetch_related("tax_rates")
    by_id = {plan.pk: plan for plan in plans} if plan_ids else {}
    for subscription in subscriptions:
        subscription.plan = by_id[subscription.plan_id]
        for phase in subscription.phases.all():
            phase.plan = by_id[phase.plan_id]
    return subscriptions


def _locked_subscription(subscription_id: int) -> Subscription:
    locked = _with_phases(
        Subscription.objects.select_for_update(of=("self",)).filter(pk=subscription_id)
    )
    if not locked:
        raise Subscription.DoesNotExist(f"Subscription #{subscription_id} does not exist.")
    return locked[0]


def subscription_ids_to_bill(*, at: datetime, among: list[int] | None = None) -> list[int]:
    """Subscriptions that may have an invoice due at `at` (each is re-checked under its lock).

    `among`: only these (a queued batch re-checks its share before reading any usage).
    """
    due_now, phases = subscriptions_due(at=at), SubscriptionPhase.objects.all()
    if among is not None:
        due_now = due_now.filter(pk__in=among)
        phases = phases.filter(subscription_id__in=among)
    due = set(due_now.values_list("pk", flat=True))
    # A plan change that happened inside the current period.
    changed = phases.filter(
        ends_at__lte=at,
        ends_at__gt=F("subscription__current_period_start"),
        ends_at__lt=F("subscription__current_period_end"),
    ).exclude(
        Exists(
            Invoice.objects.filter(
                subscription_id=OuterRef("subscription_id"),
                kind=InvoiceKind.SUBSCRIPTION,
                period_end=OuterRef("ends_at"),
            )
        )
    )
    due.update(changed.values_list("subscription_id", flat=True))
    # A start with a fee in advance or a setup fee and no opening invoice yet.
    opening = Invoice.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=OuterRef("subscription__started_at"),
        period_end=OuterRef("subscription__started_at"),
    )
    first_phases = phases.filter(
        starts_at=F("subscription__started_at"),
        subscription__started_at__lte=at,
        subscription__trial_ends_at__isnull=True,
    ).filter(
        Q(plan__setup_amount__gt=0)
        | Q(plan__base_timing=BaseTiming.IN_ADVANCE, plan__base_amount__gt=0)
    )
    due.update(first_phases.exclude(Exists(opening)).values_list("subscription_id", flat=True))
    return sorted(due)


def subscription_bill_due(
    *,
    subscription_id: int,
    at: datetime,
    ctx: BuildContext | None = None,
    max_steps: int = MAX_STEPS,
) -> list[Invoice]:
    """Issue the invoices of the subscription due at `at`, in order, one transaction each.

    At most `max_steps` per call: the next run goes on from there.
    """
    ctx = ctx or BuildContext()
    invoices = []
    for _ in range(max_steps):
        step = draft = invoice = None
        try:
            with transaction.atomic():
                subscription = _locked_subscription(subscription_id)
                phases = subscription_phases(subscription=subscription)
                state = billing_state(subscription=subscription)
                step = next_step(subscription=subscription, state=state, at=at)
                if step is None:
                    return invoices
                draft = step_build(subscription=subscription, step=step, ctx=ctx)
                if step.kind == StepKind.PERIOD_CLOSE:
                    # Before the invoice: its number then stays locked for the fewest statements.
                    subscription_advance_period(
                        subscription=subscription, at=at, locked_phases=phases
                    )
                if draft is not None:
                    invoice = invoice_create_from_draft(draft=draft, at=at)
                    ctx.prepaid.pop(subscription.pk, None)
                    ctx.billed.forget(subscription.pk)
        except IntegrityError:
            if _other_worker_issued(subscription_id, draft):
                logger.info("Subscription #%s: another worker issued %s.", subscription_id, step)
                return invoices
            raise
        if invoice is not None:
            invoices.append(invoice)
        if step.kind == StepKind.PERIOD_CLOSE and not _more_due(subscription, phases, at):
            return invoices  # known from the advanced row: no need to lock it again
    logger.warning(
        "Subscription #%s: %s invoices issued, more are due; the next run goes on.",
        subscription_id,
        max_steps,
    )
    return invoices


def subscriptions_close_periods(
    *, subscription_ids: list[int], at: datetime, ctx: BuildContext
) -> tuple[list[Invoice], set[int]]:
    """Close together, in one transaction, the due period of each subscription with just that
    to do: (invoices issued, ids with nothing more due). The others are left to
    `subscription_bill_due`; so is the whole batch if anything in it fails (it rolls back).

    The same steps, builder and saving as one by one, in a dozen statements for the batch
    plus the subscription advances, instead of a dozen per subscription.
    """
    try:
        with transaction.atomic():
            locked = _with_phases(
                Subscription.objects.select_for_update(of=("self",))
                .filter(pk__in=subscription_ids, billing_blocked_at=None)  # blocked: one by one
                .order_by("pk")
            )
            ready, settled, customers = [], set(), set()
            for subscription in locked:
                state = billing_state(subscription=subscription)
                step = next_step(subscription=subscription, state=state, at=at)
                if step is None:
                    settled.add(subscription.pk)
                elif step.kind == StepKind.PERIOD_CLOSE:
                    if subscription.customer_id in customers:
                        # One invoice per customer per batch: its coupons (computed before the
                        # batch is saved) see what the customer's previous invoice used.
                        continue
                    customers.add(subscription.customer_id)
                    try:
                        draft = step_build(subscription=subscription, step=step, ctx=ctx)
                    except RECOVERABLE:
                        continue  # billed (and reported) one by one
                    phases = subscription_phases(subscription=subscription)
                    ready.append((subscription, draft, phases))
            subscriptions_advance_periods(
                locked=[(subscription, phases) for subscription, _, phases in ready], at=at
            )
            invoices, lines = invoices_save_as_drafts(
                drafts=[draft for _, draft, _ in ready], at=at
            )
    except Exception:
        logger.warning("Closing a batch together failed: one by one instead.", exc_info=True)
        return [], set()
    # Numbered in a short transaction of their own (invoices_save_as_drafts says why). Should
    # it fail, the drafts are committed and the next close's drafts_settle finalizes them.
    try:
        invoices_finalize_saved(invoices=invoices, lines=lines, at=at)
    except Exception:
        logger.warning("Finalizing a closed batch failed: its drafts wait.", exc_info=True)
        invoices = list(Invoice.objects.filter(pk__in=[invoice.pk for invoice in invoices]))
    for subscription, _, phases in ready:
        ctx.prepaid.pop(subscription.pk, None)
        ctx.billed.forget(subscription.pk)
        if not _more_due(subscription, phases, at):
            settled.add(subscription.pk)
    return invoices, settled


def _more_due(subscription: Subscription, phases: list, at: datetime) -> bool:
    """After a period close: whether the (advanced) subscription has another invoice due."""
    start, end = subscription.current_period_start, subscription.current_period_end
    if start is None:
        return False
    if end <= at:
        return True
    return any(
        phase.ends_at is not None and start < phase.ends_at < end and phase.ends_at <= at
        for phase in phases
    )


def _other_worker_issued(subscription_id: int, draft: InvoiceDraft | None) -> bool:
    if draft is None:
        return False
    return Invoice.objects.filter(
        subscription_id=subscription_id,
        kind=draft.kind,
        period_start=draft.period_start,
        period_end=draft.period_end,
    ).exists()


def subscription_bill_on_demand(
    *, subscription_id: int, at: datetime, ctx: BuildContext | None = None
) -> list[Invoice]:
    """Issue the on-demand invoices of the windows closed by `at`, in order."""
    ctx = ctx or BuildContext()
    try:
        with transaction.atomic():
            subscription = _locked_subscription(subscription_id)
            drafts = list(on_demand_drafts(subscription=subscription, at=at, ctx=ctx))
            return invoices_create_from_drafts(drafts=drafts, at=at) if drafts else []
    finally:
        ctx.billed.forget(subscription_id)


def _replan_after_writes() -> None:
    """After a write batch's commit, have PostgreSQL plan this session's statements again.

    The foreign keys of the lines, ledger entries and revenue schedules are checked at each
    commit with plans the server keeps for the whole session. Made while the invoice table
    was still empty (a first close), such a plan scans the table whole, and each check of
    every later batch then scanned a table that kept growing: the close went quadratic. Made
    again on the table as it now is, they use its primary key. One round trip per
    WRITE_BATCH; prepared statements stay prepared (docs/performance.md, "Cycle close").
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DISCARD PLANS")


def subscriptions_bill(
    *, subscription_ids: list[int], at: datetime, ctx: BuildContext
) -> tuple[list[Invoice], list[str]]:
    """Issue every subscription invoice due at `at` for these subscriptions: (invoices, errors).

    By batches: usage read ahead for BATCH subscriptions, periods closed together by
    WRITE_BATCH, and whatever is left (openings, plan changes, catch-ups, errors) one by one.
    """
    created, errors = [], []
    for offset in range(0, len(subscription_ids), BATCH):
        batch = subscription_ids[offset : offset + BATCH]
        subscriptions = _with_plans(Subscription.objects.filter(pk__in=batch))
        usage_prime_due(ctx=ctx, subscriptions=subscriptions, at=at)
        for start in range(0, len(batch), WRITE_BATCH):
            together = batch[start : start + WRITE_BATCH]
            invoices, settled = subscriptions_close_periods(
                subscription_ids=together, at=at, ctx=ctx
            )
            created += invoices
            _replan_after_writes()
            for subscription_id in together:
                if subscription_id in settled:
                    continue
                try:
                    created += subscription_bill_due(
                        subscription_id=subscription_id, at=at, ctx=ctx
                    )
                except Exception as error:
                    logger.exception("Cycle close of subscription #%s failed", subscription_id)
                    errors.append(f"Subscription #{subscription_id}: {error}")
                    billing_block_record(subscription_id=subscription_id, error=error, at=at)
        ctx.usage.forget()
    return created, errors


def subscriptions_bill_queued(*, subscription_ids: list[int], at: datetime) -> CloseReport:
    """One queued batch of the close (`invoices.tasks.close_batch_task`, on any worker).

    The batch first keeps the subscriptions still due: a batch queued twice (the schedule runs
    every minute; a long close overlaps the next) costs a few indexed queries, not a close.
    """
    report = CloseReport(at=at)
    due = subscription_ids_to_bill(at=at, among=subscription_ids)
    report.created, report.errors = subscriptions_bill(
        subscription_ids=due, at=at, ctx=BuildContext()
    )
    report.finalized = [invoice for invoice in report.created if invoice.number]
    return report


def cycles_close(
    *,
    at: datetime,
    ctx: BuildContext | None = None,
    workers: int = 1,
    queue: bool = False,
) -> CloseReport:
    """Run the whole close at `at` (see the module docstring); safe to run twice or at once.

    workers > 1: the subscriptions are shared among that many processes (each with its own
    database connection; the row locks keep every invoice issued once).
    queue: more than CLOSE_TASK_BATCH due subscriptions are queued as django-q2 tasks of that
    many (on the broker: every worker of every machine takes some), and this run goes on with
    the on-demand windows, drafts and late events (docs/scaling.md "Cycle close").
    """
    ctx = ctx or BuildContext()
    report = CloseReport(at=at)
    due = subscription_ids_to_bill(at=at)
    if queue and len(due) > settings.CLOSE_TASK_BATCH:
        report.queued = subscriptions_bill_in_tasks(
            subscription_ids=due, at=at, batch=settings.CLOSE_TASK_BATCH
        )
    elif workers > 1 and len(due) > WRITE_BATCH:
        report.created, report.errors = subscriptions_bill_in_processes(
            subscription_ids=due, at=at, workers=workers
        )
    else:
        report.created, report.errors = subscriptions_bill(subscription_ids=due, at=at, ctx=ctx)
    reissued, reissue_errors = invoices_reissue_due(at=at)
    report.created += reissued
    report.errors += reissue_errors
    for subscription_id in on_demand_subscription_ids(at=at):
        try:
            report.created += subscription_bill_on_demand(
                subscription_id=subscription_id, at=at, ctx=ctx
            )
        except Exception as error:
            logger.exception("On-demand billing of subscription #%s failed", subscription_id)
            report.errors.append(f"Subscription #{subscription_id} (on demand): {error}")
            billing_block_record(subscription_id=subscription_id, error=error, at=at)
    try:
        report.refreshed, settled = drafts_settle(at=at)
    except RECOVERABLE as error:
        logger.exception("Settling the drafts in grace failed")
        report.errors.append(f"Drafts in grace: {error}")
        settled = []
    report.finalized = [invoice for invoice in report.created if invoice.number] + settled
    report.late_events = events_flag_late(at=at)
    return report
