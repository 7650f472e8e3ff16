"""factory-boy factories shared across the test suite. Add one per model, with Decimal literals."""

from decimal import Decimal

import factory

from catalog.models import Charge, Meter, Plan, Tier


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    code = factory.Sequence(lambda n: f"meter-{n}")
    name = factory.Sequence(lambda n: f"Meter {n}")
    event_name = factory.Sequence(lambda n: f"event_{n}")
    aggregation = "count"
    field = ""


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    currency = "USD"
    interval = "month"
    interval_count = 1
    base_amount = Decimal("0")


class ChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    plan = factory.SubFactory(PlanFactory)
    meter = factory.SubFactory(MeterFactory)
    model = "per_unit"
    unit_amount = Decimal("1.00")


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    charge = factory.SubFactory(ChargeFactory, model="graduated", unit_amount=None)
    position = factory.Sequence(lambda n: n)
    up_to = None
    unit_amount = Decimal("1.00")


def _utc_now_to_the_second():
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer billed in USD (pass currency="" to let its first subscription set it)."""

    class Meta:
        model = "customers.Customer"

    external_id = factory.Sequence(lambda n: f"customer-{n}")
    name = factory.Sequence(lambda n: f"Customer {n} Inc.")
    email = factory.LazyAttribute(lambda customer: f"billing@{customer.external_id}.example")
    currency = "USD"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A subscription made through `subscription_create` (first phase and period included).

    Pass `at=` to fix "now" (default: the later of now and started_at).
    """

    class Meta:
        model = "customers.Subscription"

    plan = factory.SubFactory(PlanFactory)
    customer = factory.SubFactory(
        CustomerFactory, currency=factory.SelfAttribute("..plan.currency")
    )
    started_at = factory.LazyFunction(_utc_now_to_the_second)
    anchor = "anniversary"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from customers.services import subscription_create

        at = kwargs.pop("at", None) or max(_utc_now_to_the_second(), kwargs["started_at"])
        return subscription_create(at=at, **kwargs)
