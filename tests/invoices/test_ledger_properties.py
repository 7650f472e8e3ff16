"""Properties of the charge ledger, over random usage and random moments (hypothesis).

Each example bills its own customer, so examples share the test's database without meeting.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.services import subscription_change_plan
from invoices.models import Invoice, InvoiceLine
from invoices.services import cycles_close
from rating import ChargeSpec, rate, round_money
from tests.invoices.helpers import customer, plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

few = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
serial = itertools.count()
START, END = utc(2026, 4, 1), utc(2026, 5, 1)


def usage_total(external_id: str) -> Decimal:
    """What every invoice of the customer billed for usage, added up."""
    return sum(
        InvoiceLine.objects.filter(
            invoice__customer__external_id=external_id, kind="usage"
        ).values_list("amount", flat=True),
        Decimal("0"),
    )


@few
@given(
    unit_amount=st.decimals("0.001", "0.75", places=3),
    free_units=st.integers(0, 20),
    cap=st.one_of(st.none(), st.integers(1, 40)),
    minimum=st.one_of(st.none(), st.integers(1, 60)),
    usage=st.lists(st.tuples(st.integers(0, 47), st.integers(1, 30)), max_size=12),
    closes=st.sets(st.integers(1, 48), max_size=10),
)
def test_on_demand_invoices_of_a_period_add_up_to_its_price_rounded_once(
    unit_amount, free_units, cap, minimum, usage, closes
):
    number = next(serial)
    charge = {
        "meter": "tokens",
        "model": "per_unit",
        "unit_amount": str(unit_amount),
        "free_units": str(free_units),
        "cadence": "on_demand",
        "max_amount": None if cap is None else str(cap),
        "min_amount": None if minimum is None or (cap and minimum > cap) else str(minimum),
    }
    offer = plan(f"od-{number}", charges=[charge])
    external_id = f"od-{number}"
    subscribe(customer(external_id), offer, started_at=START)
    for index, (hour, tokens) in enumerate(usage):
        # `seq` keeps two alike events apart (the helper's event id is built from the content).
        at = START + timedelta(hours=hour, minutes=7)
        send(external_id, "llm_tokens", at, tokens=tokens, seq=index)
    for hour in sorted(closes):
        cycles_close(at=START + timedelta(hours=hour, minutes=1))
    cycles_close(at=END)

    spec = ChargeSpec(
        model="per_unit",
        unit_amount=unit_amount,
        free_units=Decimal(free_units),
        max_amount=None if charge["max_amount"] is None else Decimal(charge["max_amount"]),
        min_amount=None if charge["min_amount"] is None else Decimal(charge["min_amount"]),
    )
    price = round_money(rate(spec, Decimal(sum(t for _, t in usage))).amount, exponent=2)
    assert usage_total(external_id) == price
    assert not Invoice.objects.filter(
        customer__external_id=external_id, kind="on_demand", total=0
    ).exists()


@few
@given(
    change_after=st.integers(1, 30 * 24 * 60 - 1),
    calls=st.integers(0, 400),
)
def test_a_plan_change_at_any_instant_bills_the_minimum_and_cap_once_in_total(change_after, calls):
    number = next(serial)
    charge = {
        "meter": "api_calls",
        "model": "per_unit",
        "unit_amount": "0.25",
        "min_amount": "50.00",
        "max_amount": "80.00",
    }
    first = plan(f"first-{number}", base_timing="in_arrears", charges=[charge])
    second = plan(f"second-{number}", base_timing="in_arrears", charges=[charge])
    external_id = f"switch-{number}"
    subscription = subscribe(customer(external_id), first, started_at=START)
    change_at = START + timedelta(minutes=change_after)
    if calls:
        send(external_id, "api_call", START + timedelta(minutes=change_after // 2), count=calls)
    subscription_change_plan(subscription=subscription, plan=second, at=change_at)

    cycles_close(at=END)

    total = usage_total(external_id)
    breakdowns = InvoiceLine.objects.filter(
        invoice__customer__external_id=external_id, kind="usage"
    ).values_list("breakdown", flat=True)
    top_ups = sum(
        (
            Decimal(row["amount"])
            for breakdown in breakdowns
            for row in breakdown["breakdown"]
            if row["label"] == "Minimum commitment top-up"
        ),
        Decimal("0"),
    )
    # Each slice has its share (by seconds) of the minimum and the cap, rounded once per line:
    # together never more than one minimum, nor more than one cap, and at least the minimum.
    assert top_ups <= Decimal("50.01")
    assert Decimal("49.99") <= total <= Decimal("80.01")
