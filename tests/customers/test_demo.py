"""The demo seed: real-looking customers on the demo plans, created once however often it runs."""

from decimal import Decimal

import pytest

from customers import demo
from customers.models import Customer, Subscription
from tests.customers.helpers import utc
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def test_seed_subscribes_demo_customers_to_the_plans_that_exist_and_is_idempotent():
    PlanFactory(code="pro", version=1)
    pro_v2 = PlanFactory(code="pro", version=2)
    hourly = PlanFactory(code="hourly-demo", interval="hour")
    at = utc(2026, 11, 21, 20, 35)

    first = demo.seed(at=at)
    second = demo.seed(at=at)

    assert first == (
        "Customers: 2 created (acme, hooli), 2 subscription(s) (acme on pro, hooli on hourly-demo)."
    )
    assert second == "Customers: 0 created (none new), 0 subscription(s) (none new)."
    acme = Subscription.objects.get(customer__external_id="acme")
    assert (acme.plan, acme.started_at, acme.current_period_end) == (
        pro_v2,
        utc(2026, 10, 1),
        utc(2026, 11, 1),  # the previous month is the first unbilled period
    )
    hooli = Subscription.objects.get(customer__external_id="hooli")
    assert (hooli.plan, hooli.started_at, hooli.current_period_end) == (
        hourly,
        utc(2026, 11, 21, 17),
        utc(2026, 11, 21, 18),
    )
    assert Customer.objects.get(external_id="acme").name == "Acme Corp"
    assert Customer.objects.get(external_id="acme").currency == "USD"
    assert not Customer.objects.filter(external_id="globex").exists()


def test_seed_extras_gives_acme_credits_a_coupon_and_a_tax_rate_once():
    from customers.models import AppliedCoupon
    from customers.selectors import wallet_balance

    PlanFactory(code="pro", version=1)
    at = utc(2026, 11, 21, 20, 35)
    demo.seed(at=at)

    first = demo.seed_extras(at=at)
    second = demo.seed_extras(at=at)

    acme = Customer.objects.get(external_id="acme")
    assert first == (
        "Extras: 25.00 of credits for acme, coupon welcome10 for acme, "
        "tax rate Sales tax (8.875 %, US-NY) for acme."
    )
    assert second == "Extras: none new."
    wallet = acme.wallets.get()
    assert (wallet_balance(wallet=wallet), wallet.low_balance_threshold) == (
        Decimal("25.00"),
        Decimal("10.00"),
    )
    assert [a.coupon.code for a in AppliedCoupon.objects.filter(customer=acme)] == ["welcome10"]
    assert [str(rate) for rate in acme.tax_rates.all()] == ["Sales tax (8.875 %, US-NY)"]
