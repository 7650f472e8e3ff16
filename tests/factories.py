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
