"""factory-boy factories shared across the test suite. Add one per model, with Decimal literals."""

from decimal import Decimal

import factory

from catalog.models import Charge, Meter, Plan, Tier
from rating import ChargeSpec, rate
from rating import Tier as RatingTier


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


# --- Issued invoices built directly (documents tests: PDF, hosted page, email) -----------------

# What the rating engine says of 2,500 units on 1000 @ 0.80, 1000 @ 0.60, rest @ 0.40 ($1,600).
GRADUATED_2500_BREAKDOWN = rate(
    ChargeSpec(
        model="graduated",
        tiers=(
            RatingTier(up_to=Decimal("1000"), unit_amount=Decimal("0.80")),
            RatingTier(up_to=Decimal("2000"), unit_amount=Decimal("0.60")),
            RatingTier(up_to=None, unit_amount=Decimal("0.40")),
        ),
    ),
    Decimal("2500"),
).as_dict()


def _aware(*args):
    from datetime import UTC, datetime

    return datetime(*args, tzinfo=UTC)


class FinalizedInvoiceFactory(factory.django.DjangoModelFactory):
    """A finalized, numbered January 2026 invoice, saved as is (no lines: add them with
    TieredUsageLineFactory / FeeLineFactory, or use FinalizedInvoiceFactory.with_tiered_usage)."""

    class Meta:
        model = "invoices.Invoice"

    customer = factory.SubFactory(
        CustomerFactory,
        name="Acme Analytics Ltd",
        address_line1="5 Harbour Road",
        city="Bristol",
        postal_code="BS1 5TR",
        country="GB",
        tax_id="GB123456789",
    )
    kind = "subscription"
    status = "finalized"
    currency = "USD"
    number = factory.Sequence(lambda n: f"INV-2026-{n + 1:06d}")
    period_start = factory.LazyFunction(lambda: _aware(2026, 1, 1))
    period_end = factory.LazyFunction(lambda: _aware(2026, 2, 1))
    issued_at = factory.LazyFunction(lambda: _aware(2026, 2, 1, 0, 5))
    due_date = factory.LazyFunction(lambda: _aware(2026, 2, 15).date())
    subtotal = Decimal("1600.00")
    total = Decimal("1600.00")
    amount_due = Decimal("1600.00")

    @classmethod
    def with_tiered_usage(cls, **kwargs):
        """The seeds' tiered example: 2,500 API calls, graduated 0.80/0.60/0.40 → $1,600.00."""
        invoice = cls(**kwargs)
        TieredUsageLineFactory(invoice=invoice)
        return invoice


class TieredUsageLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.InvoiceLine"

    invoice = factory.SubFactory(FinalizedInvoiceFactory)
    position = 1
    kind = "usage"
    description = "API calls"
    quantity = Decimal("2500")
    unit_amount = None
    amount = Decimal("1600.00")
    breakdown = factory.LazyFunction(
        lambda: {
            **GRADUATED_2500_BREAKDOWN,
            "breakdown": [dict(row) for row in GRADUATED_2500_BREAKDOWN["breakdown"]],
        }
    )
    usage_start = factory.SelfAttribute("invoice.period_start")
    usage_end = factory.SelfAttribute("invoice.period_end")


class FeeLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.InvoiceLine"

    invoice = factory.SubFactory(FinalizedInvoiceFactory)
    position = 0
    kind = "base_fee"
    description = "Monthly fee"
    quantity = Decimal("1")
    unit_amount = Decimal("29")
    amount = Decimal("29.00")
