"""The upcoming invoice's reads are compiled once per shape (billing.compiled; docs/performance.md,
"The upcoming invoice's Python"): what changes the answer — a meter's definition, a new plan
version, a new charge or tier — changes the next preview, in the same process."""

from decimal import Decimal

import pytest

from catalog.services import meter_create, meter_update, plan_update
from customers.services import subscription_change_plan
from invoices.selectors import upcoming_invoice
from metering.rollups import rollups_rebuild
from metering.selectors import Usage, usage_for_period, usage_for_windows
from tests.invoices.helpers import customer, meter, plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

START, AT = utc(2026, 3, 1, 10, 37), utc(2026, 3, 10, 5, 30)


def lines(draft):
    return [(line.description, line.amount) for line in draft.lines]


def test_editing_a_meter_changes_the_next_read_and_preview():
    calls = meter_create(code="calls", name="Calls", event_name="call", aggregation="count")
    customer("acme")
    send("acme", "call", utc(2026, 3, 1, 10, 40), region="eu")  # the partial first hour
    send("acme", "call", utc(2026, 3, 2), count=3, region="eu", seconds=4)
    send("acme", "call", utc(2026, 3, 3), count=2, region="us", seconds=10)
    rollups_rebuild(meter=calls, at=utc(2026, 3, 9))
    send("acme", "call", utc(2026, 3, 10, 5, 10), region="us", seconds=1)  # the partial end

    def read(meter):
        windows = [(meter, START, AT)]
        found = usage_for_windows(external_customer_id="acme", windows=windows)[
            (meter.pk, START, AT)
        ]
        assert found == usage_for_period(
            meter=meter, external_customer_id="acme", start=START, end=AT
        )
        return found

    assert read(calls) == Usage(Decimal("7"), 7)
    calls = meter_update(meter=calls, filters={"region": ["eu"]})
    assert read(calls) == Usage(Decimal("4"), 4)
    calls = meter_update(meter=calls, aggregation="sum", field="seconds")
    assert read(calls) == Usage(Decimal("12"), 3)
    calls = meter_update(meter=calls, filters={"region": ["us"]})
    assert read(calls) == Usage(Decimal("21"), 3)
    rollups_rebuild(meter=calls, at=utc(2026, 3, 9))  # rollups of the new definition
    assert read(calls) == Usage(Decimal("21"), 3)

    priced = plan(
        "talk",
        charges=[
            {"meter": "calls", "description": "Talk", "model": "per_unit", "unit_amount": "0.5"}
        ],
    )
    subscribe(customer("globex"), priced, started_at=START)
    send("globex", "call", utc(2026, 3, 2), count=2, region="us", seconds=3)
    send("globex", "call", utc(2026, 3, 2), region="eu", seconds=100)
    assert lines(upcoming_invoice(customer=customer_of("globex"), at=AT)) == [
        ("Talk", Decimal("3.00"))  # 6 seconds in the US
    ]


def customer_of(external_id):
    from customers.models import Customer

    return Customer.objects.get(external_id=external_id)


def test_a_new_plan_version_charge_and_tier_change_the_next_preview():
    first = plan(
        "team",
        charges=[
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "per_unit",
                "unit_amount": "0.01",
            }
        ],
    )
    acme = customer("acme")
    subscription = subscribe(acme, first, started_at=START)
    send("acme", "api_call", utc(2026, 3, 2), count=1500)
    send("acme", "credits_used", utc(2026, 3, 3), credits="4")
    assert lines(upcoming_invoice(customer=acme, at=AT)) == [("API calls", Decimal("15.00"))]

    meter("credits")
    tiers = [{"up_to": "1000", "unit_amount": "0.02"}, {"up_to": None, "unit_amount": "0.01"}]
    second = plan_update(
        plan=first,
        charges=[
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "graduated",
                "tiers": tiers,
            },
            {
                "meter": "credits",
                "description": "Credits",
                "model": "per_unit",
                "unit_amount": "0.25",
            },
        ],
    )
    assert second.pk != first.pk  # in use: a new version
    subscription_change_plan(
        subscription=subscription, plan=second, at=utc(2026, 3, 5), effective_at=START
    )
    assert lines(upcoming_invoice(customer=acme, at=AT)) == [
        ("API calls", Decimal("25.00")),  # 1000 × 0.02 + 500 × 0.01
        ("Credits", Decimal("1.00")),
    ]

    tiers[0]["unit_amount"] = "0.03"
    third = plan_update(
        plan=second,
        charges=[
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "graduated",
                "tiers": tiers,
            },
        ],
    )
    subscription_change_plan(
        subscription=subscription, plan=third, at=utc(2026, 3, 5), effective_at=START
    )
    assert lines(upcoming_invoice(customer=acme, at=AT)) == [("API calls", Decimal("35.00"))]
