"""`seed_demo`'s catalog: the worked-example meters and plans, created once."""

from decimal import Decimal

from django.core.management import call_command

from catalog.demo import seed
from catalog.models import Charge, Meter, Plan, Tier
from tests.catalog.conftest import SEEDED_AT


def test_seed_creates_the_worked_example_catalog(db):
    summary = seed(at=SEEDED_AT)

    assert "4 meter(s) created" in summary and "6 plan(s) created" in summary
    assert set(Meter.objects.values_list("code", flat=True)) == {
        "credits",
        "api_calls",
        "storage_gb",
        "tokens",
    }
    plans = {plan.code: plan for plan in Plan.objects.all()}
    assert set(plans) == {"free-tier", "growth", "credit-pack", "scale", "pro", "hourly-demo"}
    assert plans["growth"].name == "Growth (tiered API)"
    assert plans["scale"].base_amount == Decimal("199.00")
    assert plans["scale"].base_timing == "in_advance"
    assert plans["pro"].base_amount == Decimal("29.00")
    assert plans["pro"].base_timing == "in_arrears"
    assert plans["hourly-demo"].interval == "hour"
    growth_tiers = Tier.objects.filter(charge__plan=plans["growth"]).order_by("position")
    assert [(t.up_to, t.unit_amount) for t in growth_tiers] == [
        (Decimal("1000"), Decimal("0.80")),
        (Decimal("2000"), Decimal("0.60")),
        (None, Decimal("0.40")),
    ]
    pro = plans["pro"].charges.order_by("position")
    assert [(c.meter.code, c.unit_amount) for c in pro] == [
        ("credits", Decimal("0.25")),
        ("api_calls", Decimal("0.01")),
        ("storage_gb", Decimal("1.80")),
    ]
    storage = Meter.objects.get(code="storage_gb")
    assert (storage.event_name, storage.aggregation, storage.field) == ("storage", "max", "gb")


def test_seed_is_idempotent(db):
    seed(at=SEEDED_AT)
    counts = (Meter.objects.count(), Plan.objects.count(), Charge.objects.count())

    summary = seed(at=SEEDED_AT)

    assert (Meter.objects.count(), Plan.objects.count(), Charge.objects.count()) == counts
    assert "0 meter(s) created" in summary and "0 plan(s) created" in summary


def test_seed_demo_command_loads_the_catalog(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert Plan.objects.filter(code="growth").count() == 1
    assert "Catalog:" in capsys.readouterr().out
