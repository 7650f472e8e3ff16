"""A subscription's life: creation refusals, trials, cancellation both ways, expiration."""

from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError

from billing.errors import AppError
from customers.models import Subscription
from customers.selectors import subscription_current_period, subscriptions_due
from customers.services import (
    subscription_advance_period,
    subscription_cancel,
    subscription_create,
)
from tests.customers.helpers import slices, utc, walk_periods
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

JAN_1 = utc(2026, 1, 1)
FAR_LATER = utc(2031, 1, 1)


def phase_rows(subscription):
    return [
        (phase.plan.code, phase.starts_at, phase.ends_at, phase.reason)
        for phase in subscription.phases.order_by("starts_at")
    ]


# --- creation ----------------------------------------------------------------------------------


def test_first_subscription_sets_a_blank_customer_currency():
    customer = CustomerFactory(currency="")
    plan = PlanFactory(code="pro", currency="EUR")

    subscription = subscription_create(customer=customer, plan=plan, started_at=JAN_1, at=JAN_1)

    customer.refresh_from_db()
    assert customer.currency == "EUR"
    assert phase_rows(subscription) == [("pro", JAN_1, None, "start")]


def test_a_plan_in_another_currency_is_refused_and_nothing_is_created():
    customer = CustomerFactory(external_id="acme", currency="USD")
    plan = PlanFactory(code="pro-eur", currency="EUR")

    with pytest.raises(ValidationError) as refusal:
        subscription_create(customer=customer, plan=plan, started_at=JAN_1, at=JAN_1)

    assert refusal.value.message_dict == {
        "plan": ["Plan 'pro-eur' is billed in EUR but customer 'acme' is billed in USD."]
    }
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"started_at": utc(2026, 1, 2)}, "started_at", "started_at cannot be in the future."),
        ({"ends_at": JAN_1}, "ends_at", "ends_at must be after started_at."),
        ({"anchor": "weekly"}, "anchor", "Unknown anchor 'weekly'"),
        ({"trial_days": -1}, "trial_days", "trial_days must be a whole number"),
        ({"started_at": JAN_1.replace(tzinfo=None)}, "started_at", "must include a UTC offset"),
    ],
)
def test_bad_creation_input_is_refused(changes, field, message):
    customer = CustomerFactory()
    arguments = {"customer": customer, "plan": PlanFactory(), "started_at": JAN_1, "at": JAN_1}

    with pytest.raises(ValidationError) as refusal:
        subscription_create(**{**arguments, **changes})

    assert message in refusal.value.message_dict[field][0]
    assert not Subscription.objects.exists()


def test_one_live_subscription_per_customer_then_a_new_one_after_the_end():
    first = SubscriptionFactory(started_at=JAN_1, at=JAN_1)
    customer, plan = first.customer, first.plan

    with pytest.raises(AppError, match="already has a live subscription"):
        subscription_create(customer=customer, plan=plan, started_at=JAN_1, at=JAN_1)

    subscription_cancel(subscription=first, at_period_end=False, at=utc(2026, 1, 10))
    with pytest.raises(ValidationError, match="billed on a previous subscription until"):
        subscription_create(customer=customer, plan=plan, started_at=utc(2026, 1, 5), at=FAR_LATER)
    second = subscription_create(
        customer=customer, plan=plan, started_at=utc(2026, 1, 10), at=utc(2026, 1, 10)
    )
    assert second.status == "active"
    assert customer.subscriptions.count() == 2


# --- trials ------------------------------------------------------------------------------------


def test_a_trial_is_a_period_of_its_own_then_the_cycle_counts_from_its_end():
    plan = PlanFactory(code="pro", interval="month", trial_days=14)
    subscription = SubscriptionFactory(plan=plan, started_at=JAN_1, at=JAN_1)

    assert subscription.status == "trialing"
    assert subscription.trial_ends_at == utc(2026, 1, 15)
    trial = subscription_current_period(subscription=subscription)
    assert (trial.start, trial.end, trial.fraction) == (JAN_1, utc(2026, 1, 15), 1)

    subscription_advance_period(subscription=subscription, at=utc(2026, 1, 15))

    assert subscription.status == "active"
    assert (subscription.current_period_start, subscription.current_period_end) == (
        utc(2026, 1, 15),
        utc(2026, 2, 15),
    )


def test_trial_days_override_the_plan_and_a_past_trial_leaves_it_active():
    plan = PlanFactory(interval="month", trial_days=14)
    no_trial = SubscriptionFactory(plan=plan, started_at=JAN_1, at=JAN_1, trial_days=0)
    assert (no_trial.status, no_trial.trial_ends_at) == ("active", None)
    assert no_trial.current_period_end == utc(2026, 2, 1)

    late = SubscriptionFactory(plan=plan, started_at=JAN_1, at=utc(2026, 3, 1))
    # The trial is over by now, but its period is still the first one to close (for $0).
    assert late.status == "active"
    assert (late.current_period_start, late.current_period_end) == (JAN_1, utc(2026, 1, 15))


def test_a_calendar_trial_is_followed_by_a_prorated_first_month():
    plan = PlanFactory(interval="month", trial_days=7)
    subscription = SubscriptionFactory(
        plan=plan, started_at=utc(2026, 3, 1), anchor="calendar", at=utc(2026, 3, 1)
    )

    periods = walk_periods(subscription, count=3, at=FAR_LATER)

    assert periods == [
        (utc(2026, 3, 1), utc(2026, 3, 8)),
        (utc(2026, 3, 8), utc(2026, 4, 1)),
        (utc(2026, 4, 1), utc(2026, 5, 1)),
    ]
    assert slices(subscription, *periods[1])[0][3] == Fraction(24, 31)


# --- cancellation ------------------------------------------------------------------------------


def test_cancel_at_period_end_keeps_it_active_until_the_period_closes():
    plan = PlanFactory(code="pro", interval="month")
    subscription = SubscriptionFactory(plan=plan, started_at=JAN_1, at=JAN_1)

    subscription_cancel(subscription=subscription, at_period_end=True, at=utc(2026, 1, 10))

    assert subscription.status == "active"
    assert subscription.cancel_at_period_end is True
    assert subscription.cancel_at == utc(2026, 2, 1)
    assert subscription.canceled_at == utc(2026, 1, 10)
    assert subscription.current_period_end == utc(2026, 2, 1)

    subscription_advance_period(subscription=subscription, at=utc(2026, 2, 1))

    assert subscription.status == "canceled"
    assert subscription.ended_at == utc(2026, 2, 1)
    assert (subscription.current_period_start, subscription.current_period_end) == (None, None)
    assert phase_rows(subscription) == [("pro", JAN_1, utc(2026, 2, 1), "start")]
    assert list(subscriptions_due(at=FAR_LATER)) == []
    with pytest.raises(ValidationError, match="no period left to bill"):
        subscription_advance_period(subscription=subscription, at=FAR_LATER)


def test_cancel_now_cuts_the_last_period_at_that_moment():
    plan = PlanFactory(code="pro", interval="month")
    subscription = SubscriptionFactory(plan=plan, started_at=JAN_1, at=JAN_1)
    moment = utc(2026, 1, 10, 12)

    subscription_cancel(subscription=subscription, at_period_end=False, at=moment)

    assert subscription.status == "canceled"
    assert (subscription.canceled_at, subscription.ended_at) == (moment, moment)
    assert (subscription.current_period_start, subscription.current_period_end) == (JAN_1, moment)
    assert phase_rows(subscription) == [("pro", JAN_1, moment, "start")]
    # 9.5 of January's 31 days are billed.
    assert slices(subscription, JAN_1, moment) == [("pro", JAN_1, moment, Fraction(19, 62))]

    subscription_advance_period(subscription=subscription, at=moment)
    assert subscription.current_period_end is None
    assert subscription.status == "canceled"


def test_cancel_now_on_a_subscription_behind_still_bills_the_periods_before():
    subscription = SubscriptionFactory(
        plan=PlanFactory(interval="month"), started_at=JAN_1, at=utc(2026, 3, 10)
    )

    subscription_cancel(subscription=subscription, at_period_end=False, at=utc(2026, 3, 10))

    periods = walk_periods(subscription, count=3, at=utc(2026, 3, 10))
    assert periods == [
        (JAN_1, utc(2026, 2, 1)),
        (utc(2026, 2, 1), utc(2026, 3, 1)),
        (utc(2026, 3, 1), utc(2026, 3, 10)),
    ]
    assert subscription.current_period_start is None


def test_cancel_at_period_end_on_a_subscription_behind_means_the_period_of_now():
    subscription = SubscriptionFactory(
        plan=PlanFactory(interval="month"), started_at=JAN_1, at=utc(2026, 3, 10)
    )

    subscription_cancel(subscription=subscription, at_period_end=True, at=utc(2026, 3, 10))

    assert subscription.cancel_at == utc(2026, 4, 1)
    walk_periods(subscription, count=2, at=utc(2026, 4, 1))
    assert subscription.status == "active"
    assert subscription.current_period_start == utc(2026, 3, 1)
    subscription_advance_period(subscription=subscription, at=utc(2026, 4, 1))
    assert (subscription.status, subscription.ended_at) == ("canceled", utc(2026, 4, 1))


def test_canceling_twice_is_refused_and_changes_nothing():
    subscription = SubscriptionFactory(started_at=JAN_1, at=JAN_1)
    subscription_cancel(subscription=subscription, at_period_end=False, at=utc(2026, 1, 5))

    with pytest.raises(ValidationError, match="is already canceled"):
        subscription_cancel(subscription=subscription, at_period_end=True, at=utc(2026, 1, 6))

    subscription.refresh_from_db()
    assert (subscription.ended_at, subscription.cancel_at_period_end) == (utc(2026, 1, 5), False)


# --- expiration --------------------------------------------------------------------------------


def test_ends_at_truncates_the_last_period_and_ends_the_subscription():
    plan = PlanFactory(code="pro", interval="month")
    subscription = SubscriptionFactory(
        plan=plan, started_at=JAN_1, ends_at=utc(2026, 3, 15), at=JAN_1
    )

    periods = walk_periods(subscription, count=3, at=FAR_LATER)

    assert periods[-1] == (utc(2026, 3, 1), utc(2026, 3, 15))
    assert subscription.status == "ended"
    assert subscription.ended_at == utc(2026, 3, 15)
    assert subscription.current_period_start is None
    assert phase_rows(subscription) == [("pro", JAN_1, utc(2026, 3, 15), "start")]
    assert slices(subscription, *periods[-1])[0][3] == Fraction(14, 31)


def test_cancel_after_the_expiration_passed_is_refused():
    subscription = SubscriptionFactory(started_at=JAN_1, ends_at=utc(2026, 1, 20), at=JAN_1)

    with pytest.raises(ValidationError, match="already stopped"):
        subscription_cancel(subscription=subscription, at_period_end=False, at=utc(2026, 1, 25))

    subscription.refresh_from_db()
    assert (subscription.status, subscription.canceled_at) == ("active", None)
    assert subscription.current_period_end == utc(2026, 1, 20)
