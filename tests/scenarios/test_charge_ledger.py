"""The charge ledger (issue: every amount a period owes is billed exactly once), told through
the public API and close_cycles: each numbered case of the issue, as an integration sees it."""

from decimal import Decimal

import pytest

from tests.scenarios.conftest import utc

pytestmark = pytest.mark.django_db

CALLS = {"code": "calls", "name": "Calls", "event_name": "call", "aggregation": "count"}


def totals(invoices: list[dict]) -> list[str]:
    return [invoice["total"] for invoice in invoices]


def on_demand_plan(operator, code: str = "metered", **charge):
    operator.meter(**CALLS)
    operator.plan(
        code=code,
        name=code.title(),
        charges=[{"meter": "calls", "model": "per_unit", "cadence": "on_demand", **charge}],
    )


def test_1_sub_cent_on_demand_usage_is_billed_once_it_is_worth_a_cent(operator):
    on_demand_plan(operator, unit_amount="0.004")
    operator.customer("tiny")
    operator.subscribe("tiny", "metered", utc(2026, 3, 1))
    for hour in range(10):
        operator.events("tiny", "call", utc(2026, 3, 1, hour, 30))
        operator.close_cycles(at=utc(2026, 3, 1, hour + 1, 1))

    invoices = operator.invoices("tiny")
    # 0.004 an hour: the cumulative 0.008 rounds to 0.01, 0.012 to 0.01, 0.016 to 0.02, ...
    # No 0.00 invoice is ever issued (numbered, rendered, emailed).
    assert "0.00" not in totals(invoices)
    assert sum(Decimal(total) for total in totals(invoices)) == Decimal("0.04")
    assert all(invoice["kind"] == "on_demand" for invoice in invoices)

    operator.close_cycles(at=utc(2026, 4, 1))
    everything = operator.invoices("tiny")
    # The period's price rounded once: 10 × 0.004 = 0.04.
    assert sum(Decimal(total) for total in totals(everything)) == Decimal("0.04")


def test_2_on_demand_respects_the_cap_and_trues_up_the_minimum(operator):
    operator.meter(**CALLS)
    operator.plan(
        code="capped",
        name="Capped",
        charges=[
            {
                "meter": "calls",
                "model": "per_unit",
                "unit_amount": "1.00",
                "cadence": "on_demand",
                "max_amount": "3.00",
            }
        ],
    )
    operator.plan(
        code="committed",
        name="Committed",
        charges=[
            {
                "meter": "calls",
                "model": "per_unit",
                "unit_amount": "1.00",
                "cadence": "on_demand",
                "min_amount": "20.00",
            }
        ],
    )
    operator.customer("capped")
    operator.customer("committed")
    operator.subscribe("capped", "capped", utc(2026, 3, 1))
    operator.subscribe("committed", "committed", utc(2026, 3, 1))
    for hour in range(2):
        operator.events("capped", "call", utc(2026, 3, 2, hour, 10), count=5)
        operator.events("committed", "call", utc(2026, 3, 2, hour, 10), count=5)
        operator.close_cycles(at=utc(2026, 3, 2, hour + 1, 1))

    assert totals(operator.invoices("capped")) == ["3.00"]  # the cap holds as usage lands
    assert totals(operator.invoices("committed")) == ["5.00", "5.00"]  # no minimum yet

    operator.close_cycles(at=utc(2026, 4, 1))
    capped, committed = operator.invoices("capped"), operator.invoices("committed")
    assert sum(Decimal(t) for t in totals(capped)) == Decimal("3.00")
    close = committed[-1]
    assert close["kind"] == "subscription" and close["total"] == "10.00"  # 20.00 − 10.00 billed
    assert sum(Decimal(t) for t in totals(committed)) == Decimal("20.00")


def test_2_free_units_restart_every_period_for_an_on_demand_charge(operator):
    on_demand_plan(operator, unit_amount="1.00", free_units="3")
    operator.customer("free")
    operator.subscribe("free", "metered", utc(2026, 3, 1))
    operator.events("free", "call", utc(2026, 3, 5, 10, 0), count=5)
    operator.events("free", "call", utc(2026, 4, 5, 10, 0), count=5)
    operator.close_cycles(at=utc(2026, 3, 5, 11, 1))
    operator.close_cycles(at=utc(2026, 4, 5, 11, 1))

    assert totals(operator.invoices("free")) == ["2.00", "0.00", "2.00"]  # March, its close, April


def test_3_an_on_demand_charge_on_a_meter_that_can_go_down_is_refused(operator, api_client):
    operator.meter(code="seats", name="Seats", event_name="seats", aggregation="latest", field="n")
    body = {
        "code": "seats",
        "name": "Seats",
        "currency": "USD",
        "interval": "month",
        "charges": [
            {"meter": "seats", "model": "per_unit", "unit_amount": "5", "cadence": "on_demand"}
        ],
    }
    response = api_client.post("/api/v1/plans", body, format="json")

    assert response.status_code == 400
    message = response.json()["charges"]["0"]["cadence"][0]
    assert "Meter 'seats' aggregates with 'latest'" in message
    assert "cannot be billed on demand" in message
    assert api_client.get("/api/v1/plans/seats").status_code == 404


def test_4_two_minimums_split_at_mid_period_bill_one_minimum_in_total(operator):
    operator.meter(**CALLS)
    for code in ("basic", "plus"):
        operator.plan(
            code=code,
            name=code.title(),
            base_amount="10.00" if code == "plus" else "0",
            base_timing="in_arrears",
            charges=[
                {"meter": "calls", "model": "per_unit", "unit_amount": "1", "min_amount": "50.00"}
            ],
        )
    operator.customer("switcher")
    subscription = operator.subscribe("switcher", "basic", utc(2026, 4, 1))
    operator.change_plan(subscription["id"], "plus", at=utc(2026, 4, 16))  # half of April

    operator.close_cycles(at=utc(2026, 5, 1))

    usage = [
        Decimal(line["amount"])
        for invoice in operator.invoices("switcher")
        for line in invoice["lines"]
        if line["meter"] == "calls"
    ]
    assert usage == [Decimal("25.00"), Decimal("25.00")]  # 50.00 × 15/30, twice


def test_4_a_never_resetting_meter_is_counted_once_across_a_plan_change(operator):
    operator.meter(
        code="storage",
        name="Storage",
        event_name="stored",
        aggregation="sum",
        field="gb",
        reset="never",
    )
    for code, price in (("small", "1.00"), ("large", "2.00")):
        operator.plan(
            code=code,
            name=code.title(),
            charges=[{"meter": "storage", "model": "per_unit", "unit_amount": price}],
        )
    operator.customer("hoarder")
    subscription = operator.subscribe("hoarder", "small", utc(2026, 4, 1))
    operator.events("hoarder", "stored", utc(2026, 4, 3), gb=10)
    operator.change_plan(subscription["id"], "large", at=utc(2026, 4, 16))
    operator.events("hoarder", "stored", utc(2026, 4, 20), gb=5)

    operator.close_cycles(at=utc(2026, 5, 1))

    quantities = [
        (line["quantity"], line["amount"])
        for invoice in operator.invoices("hoarder")
        for line in invoice["lines"]
        if line["meter"] == "storage"
    ]
    # The 10 GB are priced on the small plan only; the new phase counts its own 5 GB.
    assert quantities == [("10", "10.00"), ("5", "10.00")]


def test_5_usage_and_upcoming_invoice_answer_with_one_figure(operator, api_client):
    operator.meter(**CALLS)
    operator.plan(
        code="mixed",
        name="Mixed",
        charges=[
            {"meter": "calls", "model": "per_unit", "unit_amount": "0.10", "cadence": "on_demand"}
        ],
    )
    operator.customer("both")
    operator.subscribe("both", "mixed", utc(2026, 4, 1))
    operator.events("both", "call", utc(2026, 4, 2, 9, 0), count=30)
    operator.close_cycles(at=utc(2026, 4, 2, 10, 1))  # 3.00 billed on demand
    operator.events("both", "call", utc(2026, 4, 2, 10, 30), count=12)
    operator.clock.set(utc(2026, 4, 2, 10, 45))

    usage = api_client.get("/api/v1/customers/both/usage").json()
    upcoming = api_client.get("/api/v1/customers/both/upcoming-invoice").json()

    (calls,) = usage["meters"]
    assert (calls["quantity"], calls["amount"], calls["billed"]) == ("42", "4.20", "3.00")
    # The upcoming invoice bills what the period owes beyond what was billed: 4.20 − 3.00.
    assert upcoming["total"] == "1.20"
    assert Decimal(calls["amount"]) - Decimal(calls["billed"]) == Decimal(upcoming["total"])


def test_6_the_preview_shows_a_pending_plan_change_and_equals_what_the_close_issues(
    operator, api_client
):
    operator.meter(**CALLS)
    operator.plan(
        code="starter",
        name="Starter",
        base_amount="20.00",
        charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.01"}],
    )
    operator.plan(code="team", name="Team", base_amount="31.00")
    operator.customer("grower")
    subscription = operator.subscribe("grower", "starter", utc(2026, 3, 1))
    operator.close_cycles(at=utc(2026, 3, 1, 0, 1))  # the opening invoice: March in advance
    operator.events("grower", "call", utc(2026, 3, 5), count=100)
    operator.change_plan(subscription["id"], "team", at=utc(2026, 3, 11))
    operator.clock.set(utc(2026, 3, 12))

    upcoming = api_client.get("/api/v1/customers/grower/upcoming-invoice").json()
    descriptions = [line["description"] for line in upcoming["lines"]]
    assert any(text.startswith("Unused Starter fee") for text in descriptions)
    assert any(text.startswith("Team fee for the rest of the period") for text in descriptions)

    operator.close_cycles(at=utc(2026, 4, 1))
    issued = [
        invoice
        for invoice in operator.invoices("grower")
        if invoice["period_start"] >= "2026-03-01T00:00:00Z"
        and invoice["period_end"] > invoice["period_start"]
    ]
    assert len(issued) == 2  # the change, then the period's close
    assert sum(Decimal(i["total"]) for i in issued) == Decimal(upcoming["total"])


def test_7_a_free_trial_bills_no_usage_unless_the_plan_says_so(operator):
    operator.meter(**CALLS)
    for code, bills in (("trial", False), ("paid-trial", True)):
        operator.plan(
            code=code,
            name=code.title(),
            trial_days=14,
            trial_bills_usage=bills,
            charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.10"}],
        )
        operator.customer(f"{code}-user")
        operator.subscribe(f"{code}-user", code, utc(2026, 4, 1))
        operator.events(f"{code}-user", "call", utc(2026, 4, 2), count=10)

    operator.close_cycles(at=utc(2026, 4, 15))

    (free,) = operator.invoices("trial-user")
    (paid,) = operator.invoices("paid-trial-user")
    assert [(line["description"], line["quantity"], line["amount"]) for line in free["lines"]] == [
        ("Calls (free trial)", "10", "0.00")
    ]
    assert paid["total"] == "1.00"
