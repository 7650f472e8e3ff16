"""Plan changes, cancellations and trials in the cycle close: prorations by the second."""

from decimal import Decimal

import pytest

from customers.services import subscription_cancel, subscription_change_plan
from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import (
    amounts,
    customer,
    lines_of,
    plan,
    pro_plan,
    scale_plan,
    send,
    subscribe,
    utc,
)

pytestmark = pytest.mark.django_db


def enterprise_plan():
    return plan(
        "enterprise",
        name="Enterprise",
        base_amount="499.00",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.50"}],
    )


def test_upgrade_mid_period_bills_the_old_plan_at_once_then_the_new_one_at_the_close():
    subscription = subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 4, 1))
    send("acme", "api_call", utc(2026, 4, 5), count=100)
    send("acme", "api_call", utc(2026, 4, 20), count=500)
    scale = scale_plan()
    subscription_change_plan(subscription=subscription, plan=scale, at=utc(2026, 4, 16))

    cycles_close(at=utc(2026, 4, 16, 0, 1))

    at_once = Invoice.objects.get()
    assert (at_once.period_start, at_once.period_end) == (utc(2026, 4, 1), utc(2026, 4, 16))
    assert lines_of(at_once) == [
        ("usage", "Credits (Pro, Apr 1 – Apr 15, 2026)", Decimal("0.00")),
        ("usage", "API calls (Pro, Apr 1 – Apr 15, 2026)", Decimal("1.00")),
        ("usage", "Storage (Pro, Apr 1 – Apr 15, 2026)", Decimal("0.00")),
        ("base_fee", "Pro fee, Apr 1 – Apr 15, 2026", Decimal("14.50")),  # 29 × 15/30
        (
            "proration_charge",
            "Scale fee for the rest of the period, Apr 16 – Apr 30, 2026",
            Decimal("99.50"),  # 199 × 15/30
        ),
    ]
    assert at_once.total == Decimal("115.00")
    assert at_once.number == "INV-2026-000001"

    cycles_close(at=utc(2026, 5, 1))

    closing = Invoice.objects.get(period_end=utc(2026, 5, 1))
    assert (closing.period_start, closing.period_end) == (utc(2026, 4, 1), utc(2026, 5, 1))
    assert lines_of(closing) == [
        ("usage", "API calls (Scale, Apr 16 – Apr 30, 2026)", Decimal("750.00")),
        ("base_fee", "Scale fee, May 1 – May 31, 2026 (in advance)", Decimal("199.00")),
    ]
    usage = closing.lines.first()
    assert (usage.usage_start, usage.usage_end, usage.quantity) == (
        utc(2026, 4, 16),
        utc(2026, 5, 1),
        500,
    )


def test_upgrade_between_in_advance_plans_credits_the_unused_fee():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    subscription_change_plan(subscription=subscription, plan=enterprise_plan(), at=utc(2026, 4, 16))

    cycles_close(at=utc(2026, 4, 16))

    opening, at_once = Invoice.objects.order_by("number")
    assert amounts(opening) == [Decimal("199.00")]
    assert lines_of(at_once)[1:] == [
        ("proration_credit", "Unused Scale fee, Apr 16 – Apr 30, 2026", Decimal("-99.50")),
        (
            "proration_charge",
            "Enterprise fee for the rest of the period, Apr 16 – Apr 30, 2026",
            Decimal("249.50"),
        ),
    ]
    assert at_once.total == Decimal("150.00")

    cycles_close(at=utc(2026, 5, 1))
    closing = Invoice.objects.get(period_end=utc(2026, 5, 1))
    assert amounts(closing) == [Decimal("0.00"), Decimal("499.00")]


def test_immediate_cancel_closes_the_period_with_a_credit_and_nothing_after():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    send("acme", "api_call", utc(2026, 4, 3), count=10)
    cycles_close(at=utc(2026, 4, 1))
    subscription_cancel(subscription=subscription, at_period_end=False, at=utc(2026, 4, 11))

    cycles_close(at=utc(2026, 4, 11))
    cycles_close(at=utc(2026, 7, 1))

    opening, final = Invoice.objects.order_by("number")
    assert (final.period_start, final.period_end) == (utc(2026, 4, 1), utc(2026, 4, 11))
    assert lines_of(final) == [
        ("usage", "API calls", Decimal("15.00")),
        # 199 × 20/30 = 132.666… → 132.67
        ("proration_credit", "Unused Scale fee, Apr 11 – Apr 30, 2026", Decimal("-132.67")),
    ]
    assert final.total == Decimal("-117.67")
    assert final.amount_due == Decimal("0")
    subscription.refresh_from_db()
    assert subscription.status == "canceled" and subscription.current_period_start is None


def test_cancel_at_period_end_bills_no_fee_for_a_next_period():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    subscription_cancel(subscription=subscription, at_period_end=True, at=utc(2026, 4, 10))

    cycles_close(at=utc(2026, 6, 1))

    opening, final = Invoice.objects.order_by("number")
    assert amounts(final) == [Decimal("0.00")]
    subscription.refresh_from_db()
    assert subscription.status == "canceled"


def test_downgrade_at_period_end_bills_the_next_plans_fee_on_the_closing_invoice():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    lite = plan("lite", name="Lite", base_amount="49.00")
    subscription_change_plan(subscription=subscription, plan=lite, at=utc(2026, 4, 10))

    cycles_close(at=utc(2026, 5, 1))

    opening, closing = Invoice.objects.order_by("number")
    assert lines_of(closing) == [
        ("usage", "API calls", Decimal("0.00")),
        ("base_fee", "Lite fee, May 1 – May 31, 2026 (in advance)", Decimal("49.00")),
    ]


def test_trial_has_no_fee_and_the_setup_fee_comes_with_the_first_paid_period():
    trial_plan = plan(
        "trial-scale",
        name="Scale",
        base_amount="199.00",
        setup_amount="50.00",
        trial_days=14,
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.10"}],
    )
    subscribe(customer("acme"), trial_plan, started_at=utc(2026, 4, 1))
    send("acme", "api_call", utc(2026, 4, 2), count=10)

    cycles_close(at=utc(2026, 4, 10))
    assert not Invoice.objects.exists()

    cycles_close(at=utc(2026, 4, 15))

    trial = Invoice.objects.get()
    assert (trial.period_start, trial.period_end) == (utc(2026, 4, 1), utc(2026, 4, 15))
    # A free trial is free: its usage shows at 0.00 (trial_bills_usage bills it).
    assert lines_of(trial) == [
        ("usage", "Api Calls (free trial)", Decimal("0.00")),
        ("base_fee", "Scale fee, Apr 15 – May 14, 2026 (in advance)", Decimal("199.00")),
        ("setup_fee", "Scale setup fee", Decimal("50.00")),
    ]


def test_a_subscription_canceled_at_its_very_start_bills_nothing_and_raises_nothing():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    subscription_cancel(subscription=subscription, at_period_end=False, at=utc(2026, 4, 1))

    report = cycles_close(at=utc(2026, 6, 1))

    assert report.errors == []
    assert not Invoice.objects.exists()


def test_a_change_at_the_very_start_of_a_prepaid_period_trades_the_old_fee_for_the_new():
    subscription = subscribe(customer("acme"), scale_plan(), started_at=utc(2026, 4, 1))
    cycles_close(at=utc(2026, 5, 1))  # April closes; May's $199 Scale fee is billed in advance
    send("acme", "api_call", utc(2026, 5, 3), count=10)
    subscription_change_plan(
        subscription=subscription,
        plan=enterprise_plan(),
        at=utc(2026, 5, 10),
        effective_at=utc(2026, 5, 1),  # backdated to the start of the paid period
    )

    cycles_close(at=utc(2026, 6, 1))

    closing = Invoice.objects.get(period_start=utc(2026, 5, 1), period_end=utc(2026, 6, 1))
    assert lines_of(closing) == [
        ("proration_credit", "Unused Scale fee, May 1 – May 31, 2026", Decimal("-199.00")),
        (
            "proration_charge",
            "Enterprise fee for the rest of the period, May 1 – May 31, 2026",
            Decimal("499.00"),
        ),
        ("usage", "Api Calls", Decimal("5.00")),  # 10 calls at 0.50, on Enterprise
        ("base_fee", "Enterprise fee, Jun 1 – Jun 30, 2026 (in advance)", Decimal("499.00")),
    ]
    assert closing.total == Decimal("804.00")
