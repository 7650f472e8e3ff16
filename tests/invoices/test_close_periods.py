"""The cycle close of whole periods: the seeds' amounts, zero invoices, catch-up, re-runs."""

from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command

from catalog.models import Charge
from invoices.models import Invoice, InvoiceLine
from invoices.services import cycles_close, subscription_bill_due
from tests.invoices.helpers import (
    amounts,
    customer,
    lines_of,
    meter,
    plan,
    pro_plan,
    scale_plan,
    send,
    subscribe,
    utc,
)

pytestmark = pytest.mark.django_db


def test_pro_plan_with_three_meters_is_60_50():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "credits_used", utc(2026, 3, 2), credits=30)
    send("acme", "credits_used", utc(2026, 3, 9), credits=20)
    send("acme", "api_call", utc(2026, 3, 3), count=1000)
    send("acme", "storage", utc(2026, 3, 4), gb=5)
    send("acme", "storage", utc(2026, 3, 20), gb=3)
    send("acme", "api_call", utc(2026, 4, 1), count=7)  # the next period's

    report = cycles_close(at=utc(2026, 4, 1, 0, 5))

    assert report.errors == []
    invoice = Invoice.objects.get()
    assert invoice.number == "INV-2026-000001"
    assert invoice.status == "finalized"
    assert (invoice.period_start, invoice.period_end) == (utc(2026, 3, 1), utc(2026, 4, 1))
    assert lines_of(invoice) == [
        ("usage", "Credits", Decimal("12.50")),
        ("usage", "API calls", Decimal("10.00")),
        ("usage", "Storage", Decimal("9.00")),
        ("base_fee", "Pro fee, Mar 1 – Mar 31, 2026", Decimal("29.00")),
    ]
    assert [line.quantity for line in invoice.lines.all()][:3] == [50, 1000, 5]
    assert invoice.subtotal == invoice.total == invoice.amount_due == Decimal("60.50")
    assert invoice.tax == invoice.discount == invoice.credits_applied == 0
    assert invoice.issued_at == utc(2026, 4, 1, 0, 5)
    assert invoice.due_date == utc(2026, 4, 1).date()


def test_every_closed_period_is_invoiced_even_at_zero():
    free = plan(
        "free-tier",
        base_amount="0",
        charges=[
            {"meter": "credits", "model": "per_unit", "unit_amount": "1.00", "free_units": "10"}
        ],
    )
    subscribe(customer("acme"), free, started_at=utc(2026, 3, 1))
    send("acme", "credits_used", utc(2026, 3, 5), credits=8)
    send("acme", "credits_used", utc(2026, 4, 5), credits=15)

    cycles_close(at=utc(2026, 5, 1))

    march, april = Invoice.objects.order_by("period_start")
    assert (march.total, april.total) == (Decimal("0.00"), Decimal("5.00"))
    assert march.number == "INV-2026-000001" and april.number == "INV-2026-000002"
    april_line = april.lines.get()
    assert april_line.breakdown["free_units"] == "10"
    assert april_line.breakdown["billable_quantity"] == "5"


def test_backdated_subscription_catches_up_period_by_period_in_order():
    subscription = subscribe(
        customer("acme"), pro_plan(), started_at=utc(2026, 1, 10), at=utc(2026, 4, 15)
    )
    for month in (1, 2, 3):
        send("acme", "api_call", utc(2026, month, 12), count=100 * month, at=utc(2026, 4, 15))

    report = cycles_close(at=utc(2026, 4, 15))

    invoices = list(Invoice.objects.order_by("number"))
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (utc(2026, 1, 10), utc(2026, 2, 10)),
        (utc(2026, 2, 10), utc(2026, 3, 10)),
        (utc(2026, 3, 10), utc(2026, 4, 10)),
    ]
    assert [i.number for i in invoices] == [f"INV-2026-00000{n}" for n in (1, 2, 3)]
    assert [i.total for i in invoices] == [Decimal("30.00"), Decimal("31.00"), Decimal("32.00")]
    assert len(report.created) == 3
    subscription.refresh_from_db()
    assert subscription.current_period_start == utc(2026, 4, 10)


def test_a_second_run_issues_nothing_more():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    cycles_close(at=utc(2026, 4, 2))
    again = cycles_close(at=utc(2026, 4, 2))
    call_command("close_cycles", "--at", "2026-04-02T00:00:00Z")

    assert again.created == []
    assert Invoice.objects.count() == 1
    assert InvoiceLine.objects.count() == 4


def test_in_advance_fee_opens_with_a_prorated_first_calendar_period():
    subscribe(
        customer("acme"),
        scale_plan(),
        started_at=utc(2026, 1, 15),
        at=utc(2026, 3, 2),
        anchor="calendar",
    )
    send("acme", "api_call", utc(2026, 2, 3), count=1500, at=utc(2026, 3, 2))

    cycles_close(at=utc(2026, 3, 2))

    opening, january, february = Invoice.objects.order_by("number")
    assert (opening.period_start, opening.period_end) == (utc(2026, 1, 15), utc(2026, 1, 15))
    # 17 of January's 31 days: 199 × 17/31 = 109.129… → 109.13
    assert lines_of(opening) == [
        ("base_fee", "Scale fee, Jan 15 – Jan 31, 2026 (in advance)", Decimal("109.13"))
    ]
    assert lines_of(january) == [
        ("usage", "API calls", Decimal("0.00")),
        ("base_fee", "Scale fee, Feb 1 – Feb 28, 2026 (in advance)", Decimal("199.00")),
    ]
    # 1000 × 1.50 + 500 × 1.35 = 2175.00, and March's fee in advance
    assert amounts(february) == [Decimal("2175.00"), Decimal("199.00")]
    assert february.total == Decimal("2374.00")
    tiers = february.lines.first().breakdown["breakdown"]
    assert [(row["label"], row["amount"]) for row in tiers] == [
        ("1 – 1000 @ 1.50", "1500"),
        ("1001 and above @ 1.35", "675"),
    ]


def test_setup_fee_is_billed_once_on_the_opening_invoice():
    onboarding = plan(
        "onboarding", base_amount="10.00", base_timing="in_arrears", setup_amount="50.00"
    )
    subscribe(customer("acme"), onboarding, started_at=utc(2026, 3, 1))

    cycles_close(at=utc(2026, 5, 1))

    opening, march, april = Invoice.objects.order_by("number")
    assert lines_of(opening) == [("setup_fee", "Onboarding setup fee", Decimal("50.00"))]
    assert amounts(march) == amounts(april) == [Decimal("10.00")]


def test_a_never_resetting_meter_counts_from_the_subscription_start():
    meter("storage_gb")
    from catalog.services import meter_update

    meter_update(meter=meter("storage_gb"), reset="never")
    storage = plan(
        "storage",
        charges=[{"meter": "storage_gb", "model": "per_unit", "unit_amount": "2.00"}],
    )
    subscribe(customer("acme"), storage, started_at=utc(2026, 3, 1))
    send("acme", "storage", utc(2026, 3, 3), gb=7)
    send("acme", "storage", utc(2026, 4, 3), gb=4)

    cycles_close(at=utc(2026, 5, 1))

    march, april = Invoice.objects.order_by("period_start")
    assert (march.total, april.total) == (Decimal("14.00"), Decimal("14.00"))
    assert april.lines.get().usage_start == utc(2026, 3, 1)


def test_on_demand_charges_are_left_out_of_the_period_invoice():
    mixed = plan(
        "mixed",
        charges=[
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.10"},
            {"meter": "tokens", "model": "per_unit", "unit_amount": "1", "cadence": "on_demand"},
        ],
    )
    subscribe(customer("acme"), mixed, started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 2), count=10)

    cycles_close(at=utc(2026, 4, 1))

    invoice = Invoice.objects.get(kind="subscription")
    assert [line.meter.code for line in invoice.lines.all()] == ["api_calls"]
    assert invoice.total == Decimal("1.00")


def test_a_rating_failure_is_reported_and_other_subscriptions_are_still_billed():
    sums = plan("sums", charges=[{"meter": "tokens", "model": "per_unit", "unit_amount": "1"}])
    subscribe(customer("broken"), sums, started_at=utc(2026, 3, 1))
    subscribe(customer("fine"), pro_plan(), started_at=utc(2026, 3, 1))
    send("broken", "llm_tokens", utc(2026, 3, 2), tokens=5)
    # A charge broken in the database (never through the API): rating refuses to price it.
    Charge.objects.filter(plan=sums).update(unit_amount=None)

    report = cycles_close(at=utc(2026, 4, 1))

    assert len(report.errors) == 1
    assert "needs a unit amount" in report.errors[0]
    assert Invoice.objects.filter(customer__external_id="fine").count() == 1
    assert not Invoice.objects.filter(customer__external_id="broken").exists()


def test_a_long_backlog_is_caught_up_over_several_runs():
    minutely = plan("minutely", interval="minute", base_amount="0.10", base_timing="in_arrears")
    subscription = subscribe(
        customer("acme"), minutely, started_at=utc(2026, 3, 1), at=utc(2026, 3, 1, 0, 5)
    )

    first = subscription_bill_due(
        subscription_id=subscription.pk, at=utc(2026, 3, 1, 0, 5), max_steps=2
    )
    rest = subscription_bill_due(
        subscription_id=subscription.pk, at=utc(2026, 3, 1, 0, 5), max_steps=10
    )

    assert (len(first), len(rest)) == (2, 3)
    ends = list(Invoice.objects.order_by("number").values_list("period_end", flat=True))
    assert ends == [utc(2026, 3, 1, 0, minute) for minute in range(1, 6)]


def test_a_crash_mid_close_leaves_nothing_half_written_and_the_rerun_issues_once():
    subscription = subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 3), count=100)

    def crash(**kwargs):
        raise RuntimeError("worker killed while handing the invoice to the documents")

    with mock.patch("invoices.services.persist.invoices_on_finalized", side_effect=crash):
        report = cycles_close(at=utc(2026, 4, 1))

    assert len(report.errors) == 1 and "worker killed" in report.errors[0]
    assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()
    subscription.refresh_from_db()
    assert subscription.current_period_start == utc(2026, 3, 1)

    cycles_close(at=utc(2026, 4, 1))
    cycles_close(at=utc(2026, 4, 1))

    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.total) == ("INV-2026-000001", Decimal("30.00"))


def test_a_batch_whose_numbering_fails_is_finalized_by_the_same_close_gaplessly(caplog):
    """The batch path commits its invoices as drafts, then numbers them in a transaction of
    its own: if that one fails, the drafts (grace over) are finalized by the run's drafts step."""
    pro = pro_plan()
    for name in ("acme", "globex", "initech"):
        subscribe(customer(name), pro, started_at=utc(2026, 3, 1))
        send(name, "api_call", utc(2026, 3, 3), count=100)

    def crash(**kwargs):
        raise RuntimeError("worker killed while numbering the batch")

    with mock.patch("invoices.services.cycles.invoices_finalize_saved", side_effect=crash):
        report = cycles_close(at=utc(2026, 4, 1))

    assert report.errors == []
    assert "Finalizing a closed batch failed" in caplog.text
    invoices = list(Invoice.objects.order_by("number"))
    assert [invoice.status for invoice in invoices] == ["finalized"] * 3
    assert [invoice.number for invoice in invoices] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]
    assert {invoice.total for invoice in invoices} == {Decimal("30.00")}

    cycles_close(at=utc(2026, 4, 1))
    assert Invoice.objects.count() == 3
