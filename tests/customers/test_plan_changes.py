"""Plan changes: upgrades now, downgrades at period end, the phases and fractions they leave."""

from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError

from customers.selectors import subscription_plan_at
from customers.services import (
    subscription_advance_period,
    subscription_cancel,
    subscription_change_plan,
)
from tests.customers.helpers import slices, utc, walk_periods
from tests.factories import PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

JAN_1, FEB_1, MAR_1 = utc(2026, 1, 1), utc(2026, 2, 1), utc(2026, 3, 1)
FAR_LATER = utc(2031, 1, 1)


@pytest.fixture
def starter():
    return PlanFactory(code="starter", base_amount=Decimal("10.00"))


@pytest.fixture
def pro():
    return PlanFactory(code="pro", base_amount=Decimal("50.00"))


def phase_rows(subscription):
    return [
        (phase.plan.code, phase.starts_at, phase.ends_at, phase.reason)
        for phase in subscription.phases.order_by("starts_at")
    ]


def test_upgrade_mid_period_takes_effect_at_once(starter, pro):
    subscription = SubscriptionFactory(plan=starter, started_at=JAN_1, at=JAN_1)
    moment = utc(2026, 1, 11)

    subscription_change_plan(subscription=subscription, plan=pro, at=moment)

    assert subscription.plan == pro
    assert phase_rows(subscription) == [
        ("starter", JAN_1, moment, "start"),
        ("pro", moment, None, "upgrade"),
    ]
    assert (subscription.current_period_start, subscription.current_period_end) == (JAN_1, FEB_1)
    assert slices(subscription, JAN_1, FEB_1) == [
        ("starter", JAN_1, moment, Fraction(10, 31)),
        ("pro", moment, FEB_1, Fraction(21, 31)),
    ]
    subscription_advance_period(subscription=subscription, at=FEB_1)
    assert slices(subscription, FEB_1, MAR_1) == [("pro", FEB_1, MAR_1, Fraction(1))]


def test_downgrade_waits_for_the_end_of_the_period(starter, pro):
    subscription = SubscriptionFactory(plan=pro, started_at=JAN_1, at=JAN_1)

    subscription_change_plan(subscription=subscription, plan=starter, at=utc(2026, 1, 11))

    assert subscription.plan == pro  # still in effect until the period ends
    assert phase_rows(subscription) == [
        ("pro", JAN_1, FEB_1, "start"),
        ("starter", FEB_1, None, "downgrade"),
    ]
    assert slices(subscription, JAN_1, FEB_1) == [("pro", JAN_1, FEB_1, Fraction(1))]
    assert subscription_plan_at(subscription=subscription, at=FEB_1) == starter

    subscription_advance_period(subscription=subscription, at=FEB_1)

    assert subscription.plan == starter
    assert slices(subscription, FEB_1, MAR_1) == [("starter", FEB_1, MAR_1, Fraction(1))]


def test_a_calendar_first_period_split_by_an_upgrade(starter, pro):
    subscription = SubscriptionFactory(
        plan=starter, started_at=utc(2026, 3, 15), anchor="calendar", at=utc(2026, 3, 15)
    )

    subscription_change_plan(subscription=subscription, plan=pro, at=utc(2026, 3, 20))

    assert slices(subscription, utc(2026, 3, 15), utc(2026, 4, 1)) == [
        ("starter", utc(2026, 3, 15), utc(2026, 3, 20), Fraction(5, 31)),
        ("pro", utc(2026, 3, 20), utc(2026, 4, 1), Fraction(12, 31)),
    ]


def test_a_downgrade_can_be_asked_for_now(starter, pro):
    subscription = SubscriptionFactory(plan=pro, started_at=JAN_1, at=JAN_1)
    moment = utc(2026, 1, 11)

    subscription_change_plan(
        subscription=subscription, plan=starter, at=moment, effective_at=moment
    )

    assert subscription.plan == starter
    assert phase_rows(subscription)[-1] == ("starter", moment, None, "downgrade")


def test_a_higher_monthly_fee_can_still_be_a_downgrade_from_a_yearly_plan():
    yearly = PlanFactory(code="yearly", interval="year", base_amount=Decimal("1000.00"))
    monthly = PlanFactory(code="monthly", interval="month", base_amount=Decimal("80.00"))
    subscription = SubscriptionFactory(plan=yearly, started_at=JAN_1, at=JAN_1)

    # $80 a month is $960 a year: less than $1000, so it waits for the yearly period to end.
    subscription_change_plan(subscription=subscription, plan=monthly, at=utc(2026, 6, 1))

    assert phase_rows(subscription)[-1] == ("monthly", utc(2027, 1, 1), None, "downgrade")
    subscription_advance_period(subscription=subscription, at=utc(2027, 1, 1))
    assert (subscription.current_period_start, subscription.current_period_end) == (
        utc(2027, 1, 1),
        utc(2027, 2, 1),
    )


def test_an_upgrade_to_another_interval_restarts_the_cycle_at_that_moment(starter):
    weekly = PlanFactory(code="weekly", interval="week", base_amount=Decimal("10.00"))
    subscription = SubscriptionFactory(plan=starter, started_at=JAN_1, at=JAN_1)
    moment = utc(2026, 1, 11)

    subscription_change_plan(subscription=subscription, plan=weekly, at=moment)

    # January is cut at the change: billed on starter for 10/31, then weekly periods from Jan 11.
    assert subscription.current_period_end == moment
    assert slices(subscription, JAN_1, moment) == [("starter", JAN_1, moment, Fraction(10, 31))]
    periods = walk_periods(subscription, count=3, at=FAR_LATER)
    assert periods == [
        (JAN_1, moment),
        (moment, utc(2026, 1, 18)),
        (utc(2026, 1, 18), utc(2026, 1, 25)),
    ]


def test_a_new_version_of_the_same_plan_is_a_plan_change(pro):
    pro_v2 = PlanFactory(code="pro", version=2, base_amount=Decimal("60.00"))
    subscription = SubscriptionFactory(plan=pro, started_at=JAN_1, at=JAN_1)

    subscription_change_plan(subscription=subscription, plan=pro_v2, at=utc(2026, 1, 11))

    assert subscription.plan == pro_v2
    assert phase_rows(subscription)[-1] == ("pro", utc(2026, 1, 11), None, "plan_change")


def test_a_change_on_a_subscription_behind_splits_the_period_it_falls_in(starter, pro):
    subscription = SubscriptionFactory(plan=starter, started_at=JAN_1, at=utc(2026, 3, 10))

    subscription_change_plan(subscription=subscription, plan=pro, at=utc(2026, 3, 10))

    assert subscription.plan == pro
    periods = walk_periods(subscription, count=3, at=utc(2026, 3, 10))
    assert slices(subscription, *periods[0]) == [("starter", JAN_1, FEB_1, Fraction(1))]
    assert slices(subscription, *periods[2]) == [
        ("starter", MAR_1, utc(2026, 3, 10), Fraction(9, 31)),
        ("pro", utc(2026, 3, 10), utc(2026, 4, 1), Fraction(22, 31)),
    ]
    assert subscription.plan == pro


def test_a_pending_downgrade_is_replaced_or_withdrawn(starter, pro):
    basic = PlanFactory(code="basic", base_amount=Decimal("5.00"))
    subscription = SubscriptionFactory(plan=pro, started_at=JAN_1, at=JAN_1)
    subscription_change_plan(subscription=subscription, plan=starter, at=utc(2026, 1, 5))

    subscription_change_plan(subscription=subscription, plan=basic, at=utc(2026, 1, 6))
    assert phase_rows(subscription) == [
        ("pro", JAN_1, FEB_1, "start"),
        ("basic", FEB_1, None, "downgrade"),
    ]

    subscription_change_plan(subscription=subscription, plan=pro, at=utc(2026, 1, 7))
    assert phase_rows(subscription) == [("pro", JAN_1, None, "start")]
    assert subscription.plan == pro


def test_cancel_at_period_end_drops_a_pending_downgrade(starter, pro):
    subscription = SubscriptionFactory(plan=pro, started_at=JAN_1, at=JAN_1)
    subscription_change_plan(subscription=subscription, plan=starter, at=utc(2026, 1, 5))

    subscription_cancel(subscription=subscription, at_period_end=True, at=utc(2026, 1, 6))

    assert phase_rows(subscription) == [("pro", JAN_1, None, "start")]
    subscription_advance_period(subscription=subscription, at=FEB_1)
    assert phase_rows(subscription) == [("pro", JAN_1, FEB_1, "start")]
    assert subscription.status == "canceled"


# --- refusals: each one leaves the subscription as it was ---------------------------------------


def refused(subscription, plan, *, at, effective_at=None) -> str:
    before = phase_rows(subscription)
    with pytest.raises(ValidationError) as refusal:
        subscription_change_plan(
            subscription=subscription, plan=plan, at=at, effective_at=effective_at
        )
    subscription.refresh_from_db()
    assert phase_rows(subscription) == before
    return " ".join(refusal.value.messages)


def test_changes_that_are_refused(starter, pro):
    subscription = SubscriptionFactory(plan=starter, started_at=JAN_1, at=JAN_1)
    euro = PlanFactory(code="pro-eur", currency="EUR", base_amount=Decimal("50.00"))

    assert "is billed in EUR but customer" in refused(subscription, euro, at=utc(2026, 1, 5))
    assert "already on plan 'starter' v1" in refused(subscription, starter, at=utc(2026, 1, 5))
    assert "not one" in refused(
        subscription, pro, at=utc(2026, 1, 5), effective_at=utc(2026, 1, 20)
    )

    subscription_advance_period(subscription=subscription, at=FEB_1)
    assert "already billed" in refused(subscription, pro, at=FEB_1, effective_at=utc(2026, 1, 20))


def test_no_change_once_the_subscription_ended(starter, pro):
    subscription = SubscriptionFactory(
        plan=starter, started_at=JAN_1, ends_at=utc(2026, 1, 20), at=JAN_1
    )
    assert "stops at 2026-01-20" in refused(subscription, pro, at=utc(2026, 1, 25))

    subscription_advance_period(subscription=subscription, at=utc(2026, 1, 25))
    assert subscription.status == "ended"
    assert "is ended: its plan can no longer change" in refused(
        subscription, pro, at=utc(2026, 1, 25)
    )
