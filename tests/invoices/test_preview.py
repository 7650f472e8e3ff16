"""The upcoming invoice and the dry run: the cycle close's own computation, writing nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from customers.services import subscription_change_plan
from invoices.models import Invoice
from invoices.selectors import NoUpcomingInvoice, cycles_close_preview, upcoming_invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, plan, pro_plan, scale_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


def test_upcoming_invoice_shows_usage_so_far_and_matches_the_close():
    acme = customer("acme")
    subscription = subscribe(acme, pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 2), count=1000)
    send("acme", "api_call", utc(2026, 3, 20), count=500)

    mid_march = upcoming_invoice(customer=acme, at=utc(2026, 3, 10))

    assert (mid_march.id, mid_march.number, mid_march.status) == (None, None, "draft")
    assert (mid_march.period_start, mid_march.period_end) == (utc(2026, 3, 1), utc(2026, 4, 1))
    assert [(line.description, line.amount) for line in mid_march.lines] == [
        ("Credits", Decimal("0.00")),
        ("API calls", Decimal("10.00")),
        ("Storage", Decimal("0.00")),
        ("Pro fee, Mar 1 – Mar 31, 2026", Decimal("29.00")),
    ]
    assert mid_march.total == Decimal("39.00")
    assert not Invoice.objects.exists()

    at_the_end = upcoming_invoice(subscription=subscription, at=utc(2026, 4, 1))
    cycles_close(at=utc(2026, 4, 1))
    closed = Invoice.objects.get()
    assert [(line.description, line.amount) for line in at_the_end.lines] == [
        (line.description, line.amount) for line in closed.lines.all()
    ]
    assert at_the_end.total == closed.total == Decimal("44.00")


def test_no_upcoming_invoice_without_a_subscription():
    with pytest.raises(NoUpcomingInvoice, match="has no active subscription"):
        upcoming_invoice(customer=customer("nobody"), at=utc(2026, 3, 1))


def test_dry_run_lists_what_the_close_would_issue_and_writes_nothing():
    subscription = subscribe(
        customer("acme"), scale_plan(), started_at=utc(2026, 1, 1), at=utc(2026, 3, 16)
    )
    enterprise = plan("enterprise", base_amount="499.00")
    subscription_change_plan(subscription=subscription, plan=enterprise, at=utc(2026, 3, 16))
    send("acme", "api_call", utc(2026, 2, 2), count=1200, at=utc(2026, 3, 16))
    output = StringIO()

    call_command("close_cycles", "--dry-run", "--at", "2026-03-16T00:00:00Z", stdout=output)

    assert not Invoice.objects.exists()
    subscription.refresh_from_db()
    assert subscription.current_period_start == utc(2026, 1, 1)
    text = output.getvalue()
    assert "Dry run at 2026-03-16T00:00:00+00:00: 4 invoice(s), nothing written." in text
    assert "$1,969.00" in text  # February: 1000 × 1.50 + 200 × 1.35 + March's $199 in advance

    previewed = [draft.total for draft in cycles_close_preview(at=utc(2026, 3, 16))]
    cycles_close(at=utc(2026, 3, 16))
    issued = [invoice.total for invoice in Invoice.objects.order_by("number")]
    assert previewed == issued
    # The upgrade on March 16 credits 16/31 of March's $199 (billed in advance by the simulated
    # February close) and charges 16/31 of $499: −102.71 + 257.55.
    assert issued == [
        Decimal("199.00"),
        Decimal("199.00"),
        Decimal("1969.00"),
        Decimal("154.84"),
    ]
