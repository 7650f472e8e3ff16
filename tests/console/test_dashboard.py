"""The dashboard (docs/operations.md, "The console"): its figures are the API's figures for the
same data, each links to its list, and the page follows payments."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.currencies import money_display
from invoices.models import Invoice
from invoices.services import cycles_close
from payments.services import payment_record_manual
from tests.invoices.helpers import customer, pro_plan, send, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed():
    """Two customers on Pro since the start of last month (USD), usage last month and this
    month, last month closed now (two finalized invoices); Acme paid $10 of its invoice."""
    now = timezone.now()
    this_month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    plan = pro_plan()
    for external_id, calls in (("acme", 300), ("globex", 1200)):
        subscribe(customer(external_id), plan, started_at=last_month, at=last_month)
        send(external_id, "api_call", last_month + timedelta(days=2), count=calls)
        send(external_id, "api_call", now - timedelta(minutes=5), count=calls // 10, at=now)
    cycles_close(at=now)
    acme_invoice = Invoice.objects.get(customer__external_id="acme")
    payment_record_manual(invoice=acme_invoice, amount=Decimal("10.00"), method="cash", at=now)
    return {"now": now}


def _api_invoices(api_client) -> list[dict]:
    response = api_client.get("/api/v1/invoices", {"limit": 100})
    assert response.status_code == 200
    return response.json()["results"]


def test_the_dashboard_shows_the_api_figures(admin_client, api_client, billed):
    invoices = _api_invoices(api_client)
    assert {invoice["status"] for invoice in invoices} == {"finalized"}
    outstanding = sum(Decimal(invoice["amount_remaining"]) for invoice in invoices)
    # Acme: $29 + 300 × $0.01 − $10 paid; Globex: $29 + 1200 × $0.01.
    assert outstanding == Decimal("63.00")

    response = admin_client.get("/admin/")
    page = response.content.decode()
    context = response.context

    assert context["receivables"][0]["outstanding"] == money_display(outstanding, "USD")
    assert "$63.00" in page
    statuses = {row["label"]: row["count"] for row in context["by_status"]}
    assert statuses["Finalized"] == len(invoices) == 2
    assert statuses["Paid"] == 0
    # MRR: two subscriptions paying $29 a month, both started more than 30 days ago or not.
    assert context["mrr"][0]["amount"] == "$58.00"
    # Usage this month equals the API's usage of each customer's current period (the month).
    for external_id in ("acme", "globex"):
        usage = api_client.get(f"/api/v1/customers/{external_id}/usage").json()
        api_calls = next(row for row in usage["meters"] if row["meter"] == "api_calls")
        rows = next(item for item in context["top_usage"] if item["meter"].code == "api_calls")
        shown = {row.external_id: row.usage.quantity for row in rows["rows"][1]}
        assert shown[external_id] == Decimal(api_calls["quantity"])
    # Every figure links to the list behind it.
    assert "/admin/invoices/invoice/?status__exact=finalized" in page
    assert "/admin/payments/overdueinvoice/" in page
    assert "/admin/payments/payment/?status__exact=failed" in page
    events_link = page.split('id="card-events"')[1].split('href="')[2].split('"')[0]
    assert events_link.startswith("/admin/metering/event/?received_at__gt=")
    assert events_link.endswith("&amp;status=unknown_customer")
    listed = admin_client.get(events_link.replace("&amp;", "&"))
    assert listed.status_code == 200 and "?e=1" not in listed.get("Location", "")


def test_the_dashboard_follows_a_payment(admin_client, api_client, billed):
    globex = Invoice.objects.get(customer__external_id="globex")
    payment_record_manual(
        invoice=globex, amount=Decimal("41.00"), method="bank_transfer", at=billed["now"]
    )
    invoices = _api_invoices(api_client)
    statuses = sorted(invoice["status"] for invoice in invoices)
    assert statuses == ["finalized", "paid"]

    context = admin_client.get("/admin/").context
    assert context["receivables"][0]["outstanding"] == "$22.00"  # Acme's $32 − $10
    counts = {row["label"]: row["count"] for row in context["by_status"]}
    assert (counts["Finalized"], counts["Paid"]) == (1, 1)


def test_the_revenue_chart_has_a_bar_per_month_and_this_month_holds_the_invoices(
    admin_client, billed
):
    context = admin_client.get("/admin/").context
    (usd,) = context["revenue_charts"]
    assert usd["currency"] == "USD"
    assert len(usd["chart"].bars) == 12
    last = usd["chart"].bars[-1]
    assert last.title.endswith("73 USD (2 invoices)")  # $32 + $41 issued this month
    assert all(bar.height == 0 for bar in usd["chart"].bars[:-1])


def test_an_empty_dashboard_says_so(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "No paying subscription yet." in page
    assert "Nothing is owed." in page
    assert "No invoice issued in the last 12 months." in page
