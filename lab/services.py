"""Backtests: start one (validated, queued as a django-q2 task) and run it (docs/operations.md,
"Pricing lab"). Nothing here writes to invoices or the ledger: a backtest only writes its own
report rows."""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from catalog.models import Plan
from catalog.selectors import plan_get
from customers.models import Customer, Subscription
from invoices.services.inputs import BuildContext
from lab.models import Backtest, BacktestRow, BacktestStatus, SelectionMode, percent_of
from lab.rerate import (
    Rerated,
    TooManyPeriods,
    billed_read,
    closed_periods,
    subscription_rerate,
    usage_prime,
)

RUN_TASK = "lab.tasks.backtest_run_task"
MAX_RANGE = timedelta(days=1100)  # about three years of periods
MAX_CUSTOMERS_LISTED = 1000
MAX_SAMPLE = 10_000
CUSTOMERS_PER_CHUNK = 200  # read in bulk and saved together; progress moves per chunk


class BacktestRefused(Exception):
    """A backtest that cannot be run as asked; `not_found` tells an unknown plan or version."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.not_found = not_found


def backtest_create(
    *,
    plan_code: str,
    version: int | None = None,
    customers: list[str] | None = None,
    sample: int | None = None,
    period_from: datetime,
    period_to: datetime,
    requested_by: str,
    created_by=None,
    at: datetime,
) -> Backtest:
    """Validate and save a backtest of plan `plan_code` (version, or its latest) over the
    periods inside [period_from, period_to), and queue its run once the transaction commits.

    Selection: `customers` (external ids), else a random `sample` of the plan's subscribers,
    else every subscriber of any version of the plan. Refused (BacktestRefused, nothing saved):
    an unknown plan or version, a range that is empty, not in the past or over MAX_RANGE, an
    empty selection, unknown customers, customers billed in another currency than the plan.
    """
    try:
        plan = plan_get(code=plan_code, version=version)
    except Plan.DoesNotExist:
        suffix = f" version {version}" if version is not None else ""
        raise BacktestRefused(f"No plan with code {plan_code!r}{suffix}.", not_found=True) from None
    _check_range(period_from=period_from, period_to=period_to, at=at)
    if customers is not None and sample is not None:
        raise BacktestRefused("Give either a list of customers or a sample size, not both.")
    if customers is not None:
        mode = SelectionMode.CUSTOMERS
        selected = _listed_customers(customers)
    else:
        subscribers = list(_plan_subscribers(plan=plan, period_to=period_to))
        mode = SelectionMode.PLAN
        if sample is not None:
            if not 1 <= sample <= MAX_SAMPLE:
                raise BacktestRefused(f"The sample size must be between 1 and {MAX_SAMPLE}.")
            mode = SelectionMode.SAMPLE
            if sample < len(subscribers):
                subscribers = sorted(random.sample(subscribers, sample), key=lambda c: c.pk)
        selected = subscribers
    if not selected:
        raise BacktestRefused(
            f"No customer to backtest: plan {plan.code!r} had no subscriber before "
            f"{period_to.isoformat()}."
        )
    _check_currency(plan=plan, customers=selected)
    with transaction.atomic():
        backtest = Backtest.objects.create(
            plan=plan,
            created_by=created_by,
            requested_by=requested_by[:255],
            period_from=period_from,
            period_to=period_to,
            selection=mode,
            sample_size=sample,
            customers=[customer.external_id for customer in selected],
            currency=plan.currency,
        )
        transaction.on_commit(lambda: async_task(RUN_TASK, backtest.pk))
    return backtest


def _check_range(*, period_from: datetime, period_to: datetime, at: datetime) -> None:
    if period_from >= period_to:
        raise BacktestRefused("'from' must be before 'to'.")
    if period_to > at:
        raise BacktestRefused("A backtest covers past periods: 'to' must not be in the future.")
    if period_to - period_from > MAX_RANGE:
        raise BacktestRefused(f"The range may span at most {MAX_RANGE.days} days.")


def _listed_customers(external_ids: list[str]) -> list[Customer]:
    if not external_ids:
        raise BacktestRefused("'customers' must list at least one customer.")
    if len(external_ids) > MAX_CUSTOMERS_LISTED:
        raise BacktestRefused(f"At most {MAX_CUSTOMERS_LISTED} customers may be listed.")
    unique = list(dict.fromkeys(external_ids))
    found = {c.external_id: c for c in Customer.objects.filter(external_id__in=unique)}
    missing = [external_id for external_id in unique if external_id not in found]
    if missing:
        raise BacktestRefused(f"Unknown customers: {', '.join(missing[:20])}.")
    return [found[external_id] for external_id in unique]


def _plan_subscribers(*, plan: Plan, period_to: datetime):
    """Customers with a subscription that was on any version of the plan before period_to."""
    return (
        Customer.objects.filter(
            subscriptions__phases__plan__code=plan.code,
            subscriptions__phases__starts_at__lt=period_to,
        )
        .distinct()
        .order_by("pk")
    )


def _check_currency(*, plan: Plan, customers: list[Customer]) -> None:
    """A customer is billed in one currency: a draft in another one is refused."""
    other = [
        customer
        for customer in customers
        if (customer.currency or plan.currency).upper() != plan.currency.upper()
    ]
    other_subscriptions = (
        Subscription.objects.filter(customer__in=customers)
        .exclude(plan__currency__iexact=plan.currency)
        .select_related("customer", "plan")
    )
    seen = {customer.pk for customer in other}
    for subscription in other_subscriptions:
        if subscription.customer_id not in seen:
            seen.add(subscription.customer_id)
            other.append(subscription.customer)
    if other:
        names = ", ".join(
            f"{c.external_id} ({c.currency or 'on a plan in another currency'})" for c in other[:20]
        )
        raise BacktestRefused(
            f"Plan {plan.code} v{plan.version} is priced in {plan.currency}, but these customers "
            f"are billed in another currency: {names}. A customer is billed in one currency: "
            "backtest a plan in their currency."
        )


def backtest_run(*, backtest_id: int, at: datetime) -> Backtest:
    """Re-rate every selected customer's closed periods in the range on the draft plan, saving
    one row per customer and the totals; progress is saved after each customer. A backtest that
    already finished is left as it is; a rerun of one interrupted midway redoes its rows."""
    backtest = Backtest.objects.select_related("plan").get(pk=backtest_id)
    if backtest.status in (BacktestStatus.SUCCEEDED, BacktestStatus.FAILED):
        return backtest
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, started_at=at, progress=0, customers_done=0
    )
    try:
        _run(backtest)
    except TooManyPeriods as error:
        _fail(backtest, str(error))
    except Exception:
        _fail(backtest, "The backtest stopped on an unexpected error (see the task's log).")
        raise
    backtest.refresh_from_db()
    return backtest


def _fail(backtest: Backtest, message: str) -> None:
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error=message, finished_at=timezone.now()
    )


def _run(backtest: Backtest) -> None:
    ctx = BuildContext()  # plans and usage cached for this run only
    customers = {
        c.external_id: c for c in Customer.objects.filter(external_id__in=backtest.customers)
    }
    subscriptions = Subscription.objects.filter(
        customer__external_id__in=backtest.customers, started_at__lt=backtest.period_to
    )
    if backtest.selection != SelectionMode.CUSTOMERS:
        # The subscriptions that were on the plan before the range's end (the selection's rule).
        on_plan = Q(phases__plan__code=backtest.plan.code, phases__starts_at__lt=backtest.period_to)
        subscriptions = subscriptions.filter(on_plan).distinct()
    by_customer: dict[int, list[Subscription]] = {}
    for subscription in subscriptions.select_related("customer", "plan").prefetch_related(
        "phases__plan"
    ):
        by_customer.setdefault(subscription.customer_id, []).append(subscription)
    total = len(backtest.customers)
    done = 0
    for offset in range(0, total, CUSTOMERS_PER_CHUNK):
        chunk = backtest.customers[offset : offset + CUSTOMERS_PER_CHUNK]
        periods_of = [
            (
                subscription,
                closed_periods(
                    subscription=subscription,
                    period_from=backtest.period_from,
                    period_to=backtest.period_to,
                ),
            )
            for external_id in chunk
            if external_id in customers
            for subscription in by_customer.get(customers[external_id].pk, [])
        ]
        usage_prime(ctx=ctx, draft=backtest.plan, periods_of=periods_of)
        billed = billed_read(periods_of=periods_of)
        periods_by_customer: dict[int, list] = {}
        for pair in periods_of:
            periods_by_customer.setdefault(pair[0].customer_id, []).append(pair)
        rows = [
            _customer_row(
                backtest,
                customers[external_id],
                periods_by_customer.get(customers[external_id].pk, []),
                billed=billed,
                ctx=ctx,
            )
            for external_id in chunk
            if external_id in customers
        ]
        with transaction.atomic():
            # A rerun after an interruption redoes the chunk's rows.
            BacktestRow.objects.filter(
                backtest=backtest, customer__in=[r.customer for r in rows]
            ).delete()
            BacktestRow.objects.bulk_create(rows)
            done += len(chunk)
            Backtest.objects.filter(pk=backtest.pk).update(
                customers_done=done, progress=min(99, done * 100 // total)
            )
        ctx.usage.forget()  # what this chunk read is not needed again
    _finish(backtest)


def _customer_row(
    backtest: Backtest, customer: Customer, periods_of: list[tuple], *, billed, ctx
) -> BacktestRow:
    result = Rerated()
    for subscription, periods in periods_of:
        result.merge(
            subscription_rerate(
                subscription=subscription,
                draft=backtest.plan,
                periods=periods,
                billed=billed,
                ctx=ctx,
            )
        )
    return BacktestRow(
        backtest=backtest,
        customer=customer,
        periods=result.periods,
        billed=result.billed,
        would_be=result.would_be,
        difference=result.would_be - result.billed,
        difference_percent=percent_of(result.would_be - result.billed, result.billed),
        charges=_charges_json(result),
    )


def _charges_json(result: Rerated) -> dict:
    return {
        key: {
            "label": movement.label,
            "billed": str(movement.billed),
            "would_be": str(movement.would_be),
        }
        for key, movement in sorted(result.charges.items())
    }


def _finish(backtest: Backtest) -> None:
    rows = list(backtest.rows.values_list("billed", "would_be", "periods"))
    billed = sum((row[0] for row in rows), Decimal("0"))
    would_be = sum((row[1] for row in rows), Decimal("0"))
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.SUCCEEDED,
        progress=100,
        periods=sum(row[2] for row in rows),
        billed_total=billed,
        would_be_total=would_be,
        difference_total=would_be - billed,
        finished_at=timezone.now(),
    )
