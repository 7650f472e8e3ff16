"""The seeds' billing stories, told as an operator would, through the API and close_cycles."""

import pytest

from metering.models import Event
from tests.scenarios.conftest import lines, utc

pytestmark = pytest.mark.django_db

CREDITS = {"code": "credits", "name": "Credits", "event_name": "credits_used"}
API_CALLS = {"code": "api_calls", "name": "API calls", "event_name": "api_call"}


def test_free_tier_costs_nothing_within_ten_credits_then_a_dollar_each(operator):
    operator.meter(**CREDITS, aggregation="sum", field="credits")
    operator.plan(
        code="free-tier",
        name="Free tier",
        charges=[
            {"meter": "credits", "model": "per_unit", "unit_amount": "1.00", "free_units": "10"}
        ],
    )
    operator.customer("hobbyist")
    operator.subscribe("hobbyist", "free-tier", utc(2026, 3, 1))
    operator.events("hobbyist", "credits_used", utc(2026, 3, 5), credits=8)
    operator.events("hobbyist", "credits_used", utc(2026, 4, 5), credits=9)
    operator.events("hobbyist", "credits_used", utc(2026, 4, 20), credits=6)

    operator.close_cycles(at=utc(2026, 5, 1))

    march, april = operator.invoices("hobbyist")
    assert (march["total"], march["number"]) == ("0.00", "INV-2026-000001")
    assert (april["total"], april["number"]) == ("5.00", "INV-2026-000002")
    assert april["lines"][0]["quantity"] == "15"


def test_tiered_api_calls_cost_1600_for_2500_calls(operator):
    operator.meter(**API_CALLS, aggregation="count")
    operator.plan(
        code="growth",
        name="Growth",
        charges=[
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "0.80"},
                    {"up_to": "2000", "unit_amount": "0.60"},
                    {"up_to": None, "unit_amount": "0.40"},
                ],
            }
        ],
    )
    operator.customer("startup")
    operator.subscribe("startup", "growth", utc(2026, 3, 1))
    operator.events("startup", "api_call", utc(2026, 3, 10), count=2500)

    operator.close_cycles(at=utc(2026, 4, 1))

    (invoice,) = operator.invoices("startup")
    assert invoice["total"] == invoice["amount_due"] == "1600.00"
    tiers = invoice["lines"][0]["breakdown"]["breakdown"]
    assert [(tier["label"], tier["amount"]) for tier in tiers] == [
        ("1 – 1000 @ 0.80", "800"),
        ("1001 – 2000 @ 0.60", "600"),
        ("2001 and above @ 0.40", "200"),
    ]


def test_pro_plan_with_credits_calls_and_storage_is_60_50(operator):
    operator.meter(**CREDITS, aggregation="sum", field="credits")
    operator.meter(**API_CALLS, aggregation="count")
    operator.meter(
        code="storage_gb", name="Storage", event_name="storage", aggregation="max", field="gb"
    )
    operator.plan(
        code="pro",
        name="Pro",
        base_amount="29.00",
        base_timing="in_arrears",
        charges=[
            {"meter": "credits", "model": "per_unit", "unit_amount": "0.25"},
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
            {"meter": "storage_gb", "model": "per_unit", "unit_amount": "1.80"},
        ],
    )
    operator.customer("acme")
    operator.subscribe("acme", "pro", utc(2026, 3, 1))
    operator.events("acme", "credits_used", utc(2026, 3, 2), credits=50)
    operator.events("acme", "api_call", utc(2026, 3, 3), count=1000)
    operator.events("acme", "storage", utc(2026, 3, 4), gb=5)

    operator.close_cycles(at=utc(2026, 4, 1))

    (invoice,) = operator.invoices("acme")
    assert [line["amount"] for line in invoice["lines"]] == ["12.50", "10.00", "9.00", "29.00"]
    assert invoice["total"] == "60.50"
    calls = invoice["lines"][1]
    events = operator.client.get(calls["events_url"]).json()
    assert (events["event_count"], events["quantity"], calls["quantity"]) == (1000, "1000", "1000")


def scale_plan(operator):
    operator.meter(**API_CALLS, aggregation="count")
    operator.plan(
        code="scale",
        name="Scale",
        base_amount="199.00",
        base_timing="in_advance",
        charges=[
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "1.50"},
                    {"up_to": None, "unit_amount": "1.35"},
                ],
            }
        ],
    )


def test_199_in_advance_plus_two_tiers(operator):
    scale_plan(operator)
    operator.customer("bigco")
    operator.subscribe("bigco", "scale", utc(2026, 3, 1))
    operator.close_cycles(at=utc(2026, 3, 1, 0, 1))
    operator.events("bigco", "api_call", utc(2026, 3, 15), count=1200)

    operator.close_cycles(at=utc(2026, 4, 1))

    opening, march = operator.invoices("bigco")
    assert lines(opening) == [("Scale fee, Mar 1 – Mar 31, 2026 (in advance)", "199.00")]
    # 1000 × 1.50 + 200 × 1.35 = 1770.00 for March, and April's 199.00 in advance
    assert lines(march) == [
        ("API calls", "1770.00"),
        ("Scale fee, Apr 1 – Apr 30, 2026 (in advance)", "199.00"),
    ]
    assert march["total"] == "1969.00"


def test_upgrade_mid_period_bills_the_old_plan_at_once(operator):
    scale_plan(operator)
    operator.plan(
        code="starter",
        name="Starter",
        base_amount="20.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.10"}],
    )
    operator.customer("acme")
    subscription = operator.subscribe("acme", "starter", utc(2026, 4, 1))
    operator.events("acme", "api_call", utc(2026, 4, 3), count=100)
    operator.change_plan(subscription["id"], "scale", at=utc(2026, 4, 11))
    operator.events("acme", "api_call", utc(2026, 4, 20), count=10)

    operator.close_cycles(at=utc(2026, 4, 20, 0, 1))
    (at_once,) = operator.invoices("acme")
    assert (at_once["period_start"], at_once["period_end"]) == (
        "2026-04-01T00:00:00Z",
        "2026-04-11T00:00:00Z",
    )
    assert lines(at_once) == [
        ("API calls (Starter, Apr 1 – Apr 10, 2026)", "10.00"),
        ("Starter fee, Apr 1 – Apr 10, 2026", "6.67"),  # 20 × 10/30
        ("Scale fee for the rest of the period, Apr 11 – Apr 30, 2026", "132.67"),  # 199 × 20/30
    ]

    operator.close_cycles(at=utc(2026, 5, 1))

    _, closing = operator.invoices("acme")
    assert lines(closing) == [
        ("API calls (Scale, Apr 11 – Apr 30, 2026)", "15.00"),
        ("Scale fee, May 1 – May 31, 2026 (in advance)", "199.00"),
    ]


def test_a_backdated_subscription_catches_up_every_period_in_order(operator):
    operator.meter(**API_CALLS, aggregation="count")
    operator.plan(
        code="metered",
        name="Metered",
        base_amount="5.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.02"}],
    )
    operator.customer("late-signup")
    operator.clock.set(utc(2026, 6, 10))
    subscription = operator.subscribe("late-signup", "metered", utc(2026, 2, 15))
    assert subscription["current_period_start"] == "2026-02-15T00:00:00Z"
    for month in (2, 3, 4, 5):
        operator.events(
            "late-signup", "api_call", utc(2026, month, 20), count=50, received_at=utc(2026, 6, 10)
        )

    operator.close_cycles(at=utc(2026, 6, 10))
    operator.close_cycles(at=utc(2026, 6, 10, 0, 1))  # a re-run adds nothing

    invoices = operator.invoices("late-signup")
    assert [(i["period_start"][:10], i["period_end"][:10]) for i in invoices] == [
        ("2026-02-15", "2026-03-15"),
        ("2026-03-15", "2026-04-15"),
        ("2026-04-15", "2026-05-15"),  # May 15 – June 15 is still running
    ]
    assert [i["total"] for i in invoices] == ["6.00", "6.00", "6.00"]
    assert [i["number"] for i in invoices] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]


def test_on_demand_hourly_invoices_price_the_cumulative_tiers(operator):
    operator.meter(
        code="tokens", name="Tokens", event_name="llm_tokens", aggregation="sum", field="tokens"
    )
    operator.plan(
        code="llm",
        name="LLM",
        charges=[
            {
                "meter": "tokens",
                "model": "graduated",
                "cadence": "on_demand",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "0.02"},
                    {"up_to": None, "unit_amount": "0.01"},
                ],
            }
        ],
    )
    operator.customer("chatbot")
    operator.subscribe("chatbot", "llm", utc(2026, 5, 1))
    operator.events("chatbot", "llm_tokens", utc(2026, 5, 1, 9, 10), tokens=600)
    operator.events("chatbot", "llm_tokens", utc(2026, 5, 1, 10, 40), tokens=700)
    operator.events("chatbot", "llm_tokens", utc(2026, 5, 1, 12, 5), tokens=300)

    operator.close_cycles(at=utc(2026, 5, 1, 13, 0))

    invoices = operator.invoices("chatbot")
    assert [(i["kind"], i["period_start"][11:16], i["total"]) for i in invoices] == [
        ("on_demand", "09:00", "12.00"),  # 600 @ 0.02
        ("on_demand", "10:00", "11.00"),  # 400 @ 0.02 + 300 @ 0.01 (cumulative 1,300)
        ("on_demand", "12:00", "3.00"),  # 300 @ 0.01; 11:00–12:00 had no usage
    ]


def test_grace_period_refreshes_the_draft_then_a_later_event_is_flagged_late(operator):
    operator.meter(**API_CALLS, aggregation="count")
    operator.plan(
        code="calls",
        name="Calls",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.10"}],
    )
    operator.customer("acme", invoice_grace_period_hours=24)
    operator.subscribe("acme", "calls", utc(2026, 3, 1))
    operator.events("acme", "api_call", utc(2026, 3, 20), count=10)

    operator.close_cycles(at=utc(2026, 4, 1, 0, 5))
    (draft,) = operator.invoices("acme")
    assert (draft["status"], draft["number"], draft["total"]) == ("draft", None, "1.00")

    # March's last calls, reported the next morning: the draft takes them in.
    operator.events(
        "acme", "api_call", utc(2026, 3, 31, 23), count=5, received_at=utc(2026, 4, 1, 9)
    )
    operator.close_cycles(at=utc(2026, 4, 1, 12))
    (draft,) = operator.invoices("acme")
    assert (draft["status"], draft["total"]) == ("draft", "1.50")

    operator.close_cycles(at=utc(2026, 4, 2, 0, 1))
    (final,) = operator.invoices("acme")
    assert (final["status"], final["number"], final["total"]) == (
        "finalized",
        "INV-2026-000001",
        "1.50",
    )

    # Two more March calls arrive after the invoice was issued: kept, flagged, not billed.
    operator.events("acme", "api_call", utc(2026, 3, 30), count=2, received_at=utc(2026, 4, 3))
    operator.close_cycles(at=utc(2026, 4, 3, 0, 1))
    (final,) = operator.invoices("acme")
    assert final["total"] == "1.50"
    assert Event.objects.filter(external_customer_id="acme", is_late=True).count() == 2
    assert Event.objects.filter(external_customer_id="acme").count() == 17
