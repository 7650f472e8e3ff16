"""On-demand charges: an invoice per hour (or day) with usage, tiers on the cumulative usage."""

from decimal import Decimal

import pytest
from django.test import override_settings

from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens_subscription():
    tokens = plan(
        "tokens-on-demand",
        charges=[
            {
                "meter": "tokens",
                "description": "Tokens",
                "model": "graduated",
                "cadence": "on_demand",
                "tiers": [
                    {"up_to": "100", "unit_amount": "1.00"},
                    {"up_to": None, "unit_amount": "0.50"},
                ],
            }
        ],
    )
    subscription = subscribe(customer("acme"), tokens, started_at=utc(2026, 4, 1))
    send("acme", "llm_tokens", utc(2026, 4, 1, 10, 15), tokens=80)
    send("acme", "llm_tokens", utc(2026, 4, 1, 11, 30), tokens=50)
    send("acme", "llm_tokens", utc(2026, 4, 1, 13, 10), tokens=20)
    return subscription


def on_demand_invoices():
    return list(Invoice.objects.filter(kind="on_demand").order_by("period_start"))


def test_hourly_invoices_charge_the_increment_of_the_cumulative_tiers(tokens_subscription):
    cycles_close(at=utc(2026, 4, 1, 14, 5))

    invoices = on_demand_invoices()
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (utc(2026, 4, 1, 10), utc(2026, 4, 1, 11)),
        (utc(2026, 4, 1, 11), utc(2026, 4, 1, 12)),
        # no usage from 12:00 to 13:00: no invoice
        (utc(2026, 4, 1, 13), utc(2026, 4, 1, 14)),
    ]
    # 80 @ 1.00; then 20 @ 1.00 + 30 @ 0.50 (cumulative 130); then 20 @ 0.50 (cumulative 150)
    assert [i.total for i in invoices] == [Decimal("80.00"), Decimal("35.00"), Decimal("10.00")]
    assert [i.number for i in invoices] == [f"INV-2026-00000{n}" for n in (1, 2, 3)]
    second = invoices[1].lines.get()
    assert second.quantity == 50
    assert (second.breakdown["cumulative_before"], second.breakdown["cumulative_after"]) == (
        "80",
        "130",
    )
    assert [(row["label"], row["units"]) for row in second.breakdown["breakdown"]] == [
        ("1 – 100 @ 1.00", "20"),
        ("101 and above @ 0.50", "30"),
    ]


def test_missed_windows_are_caught_up_in_order_and_never_twice(tokens_subscription):
    cycles_close(at=utc(2026, 4, 1, 11, 59))
    assert [i.total for i in on_demand_invoices()] == [Decimal("80.00")]

    cycles_close(at=utc(2026, 4, 1, 14, 5))
    cycles_close(at=utc(2026, 4, 1, 14, 6))

    assert [i.total for i in on_demand_invoices()] == [
        Decimal("80.00"),
        Decimal("35.00"),
        Decimal("10.00"),
    ]


@override_settings(ON_DEMAND_BILLING="daily")
def test_daily_billing_makes_one_invoice_per_day(tokens_subscription):
    send("acme", "llm_tokens", utc(2026, 4, 2, 9), tokens=10)

    cycles_close(at=utc(2026, 4, 3))

    invoices = on_demand_invoices()
    assert [(i.period_start, i.total) for i in invoices] == [
        (utc(2026, 4, 1), Decimal("125.00")),  # 100 @ 1.00 + 50 @ 0.50
        (utc(2026, 4, 2), Decimal("5.00")),
    ]


def test_the_period_invoice_leaves_out_what_on_demand_invoices_billed(tokens_subscription):
    cycles_close(at=utc(2026, 4, 1, 14, 5))
    cycles_close(at=utc(2026, 5, 1))

    period = Invoice.objects.get(kind="subscription")
    assert period.lines.count() == 0
    assert period.total == Decimal("0")
    assert sum(i.total for i in on_demand_invoices()) == Decimal("125.00")


def test_a_close_that_comes_first_bills_what_no_on_demand_invoice_billed(tokens_subscription):
    cycles_close(at=utc(2026, 4, 1, 11, 5))  # the 10:00 window: 80 @ 1.00
    cycles_close(at=utc(2026, 5, 1))  # the period closes before the other windows were billed

    period = Invoice.objects.get(kind="subscription")
    line = period.lines.get()
    assert (line.description, line.quantity, line.amount) == (
        "Tokens, rest of the period",
        Decimal("70"),
        Decimal("45.00"),  # 20 @ 1.00 + 50 @ 0.50: the period's 125.00 less the 80.00 billed
    )
    assert [i.total for i in on_demand_invoices()] == [Decimal("80.00")]


def test_usage_that_arrives_late_for_an_invoiced_hour_is_charged_once_on_the_next_invoice(
    tokens_subscription,
):
    cycles_close(at=utc(2026, 4, 1, 14, 5))  # 80 + 35 + 10: cumulative 150, all invoiced
    # At 14:30, usage for 12:15 (an hour that had none) and 10:40 (an invoiced hour) arrives.
    send("acme", "llm_tokens", utc(2026, 4, 1, 12, 15), tokens=30)
    send("acme", "llm_tokens", utc(2026, 4, 1, 10, 40), tokens=10)
    send("acme", "llm_tokens", utc(2026, 4, 1, 14, 20), tokens=5)

    cycles_close(at=utc(2026, 4, 1, 15, 1))
    cycles_close(at=utc(2026, 4, 1, 16, 1))

    invoices = on_demand_invoices()
    latest = invoices[-1]
    assert (latest.period_start, latest.period_end) == (utc(2026, 4, 1, 14), utc(2026, 4, 1, 15))
    rows = [
        (line.kind, line.description, line.quantity, line.amount) for line in latest.lines.all()
    ]
    # 40 late units and 5 new ones: cumulative 150 → 195, all at 0.50, on one line.
    assert rows == [("usage", "Tokens", 45, Decimal("22.50"))]
    breakdown = latest.lines.get().breakdown
    assert (breakdown["cumulative_before"], breakdown["cumulative_after"]) == ("150", "195")
    # Every unit is charged once: the invoices add up to the tiers on the total of 195 units.
    assert sum(i.total for i in invoices) == Decimal("100") + Decimal("95") * Decimal("0.50")
    assert len(invoices) == 4


def test_late_usage_alone_is_invoiced_with_the_last_closed_hour(tokens_subscription):
    cycles_close(at=utc(2026, 4, 1, 14, 5))
    send("acme", "llm_tokens", utc(2026, 4, 1, 12, 15), tokens=30)  # late, nothing else new

    cycles_close(at=utc(2026, 4, 1, 15, 1))

    latest = on_demand_invoices()[-1]
    assert (latest.period_start, latest.period_end) == (utc(2026, 4, 1, 14), utc(2026, 4, 1, 15))
    assert latest.total == Decimal("15.00")  # 30 late units at 0.50
