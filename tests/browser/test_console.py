"""The operator's flows in a real browser (docs/operations.md, "The console"): log in, build a
graduated plan and price it, create and subscribe a customer, send usage through the API, read
the upcoming invoice, close the cycle, open the PDF, record a payment, watch the dashboard."""

import os
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.core.management import call_command

from billing.services import api_key_create
from catalog.models import Plan
from customers.models import Customer
from invoices.models import Invoice
from tests.factories import MeterFactory
from tests.invoices.helpers import pro_plan

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


def log_in(page, live_url: str) -> None:
    User.objects.create_superuser("operator", "operator@tally.example", PASSWORD)
    page.goto(f"{live_url}/admin/")
    page.shots("login")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector(".console-nav")


def figure(page, card: str) -> str:
    return page.inner_text(f"#card-{card} .figure").strip()


def test_a_graduated_plan_is_built_and_priced_in_the_browser(page, live_url):
    MeterFactory(code="api_calls", name="API calls", event_name="api_call")
    log_in(page, live_url)
    # The stylesheets come through WhiteNoise with DEBUG off.
    assert page.request.get(f"{live_url}/static/admin/css/base.css").ok
    assert page.request.get(f"{live_url}/static/console/console.css").ok
    page.shots("dashboard-empty")

    page.click(".console-nav a:text-is('Plans')")
    page.click("text=Add plan")
    page.fill("#id_code", "growth")
    page.fill("#id_name", "Growth (tiered API)")
    page.fill("#id_currency", "USD")
    page.select_option("#id_charges-0-meter", label="API calls (api_calls)")
    page.select_option("#id_charges-0-model", "graduated")
    for row, (up_to, unit_amount) in enumerate([("1000", "0.80"), ("2000", "0.60"), ("", "0.40")]):
        page.fill(f"[name=charges-0-tiers-{row}-up_to]", up_to)
        page.fill(f"[name=charges-0-tiers-{row}-unit_amount]", unit_amount)
    page.shots("plan-builder")
    page.click("input[name=_continue]")
    assert "was added successfully" in page.inner_text(".messagelist")
    page.shots("plan-saved")
    # The sample bill prices one quantity on every charge plus the fee.
    page.fill("#sample-prices [name=sample]", "2500")
    page.click("#sample-prices input[type=submit]")
    page.shots("sample-bill")
    assert page.inner_text("#sample-total") == "$1,600.00"

    page.click("text=Price calculator")
    page.fill("#id_quantity", "2500")
    page.click("input[value=Calculate]")
    page.shots("calculator")
    assert "$1,600.00" in page.inner_text(".catalog-amount")


def test_a_customer_is_billed_paid_and_the_dashboard_follows(page, live_url, settings):
    settings.PUBLIC_BASE_URL = live_url  # the customer's links point at this server
    pro_plan()
    raw_key = api_key_create(name="browser test")[1]
    log_in(page, live_url)
    page.shots("dashboard-before")
    assert figure(page, "outstanding") == "—"

    # Create a customer: the page that opens is the customer's own.
    page.click(".console-nav a:text-is('Customers')")
    page.click("text=Add customer")
    page.fill("#id_external_id", "globex")
    page.fill("#id_name", "Globex")
    page.fill("#id_email", "billing@globex.example")
    page.fill("#id_currency", "USD")
    page.click("input[name=_save]")
    assert "Customer Globex created" in page.inner_text(".messagelist")
    page.shots("customer-created")

    # Subscribe them from the first day of last month (midnight UTC): that period closes now.
    now = datetime.now(UTC)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=1)
    page.click("text=Subscribe to a plan")
    page.select_option("#id_plan", index=1)
    page.fill("#id_started_at", last_month.strftime("%Y-%m-%dT00:00"))
    page.shots("subscribe")
    page.click("input[type=submit]")
    assert "Subscribed Globex to Pro" in page.inner_text(".messagelist")

    # Usage through the public API: 300 calls last month, 50 in the current period.
    last_month_call = (last_month + timedelta(days=3)).isoformat()
    current_call = (now - timedelta(minutes=1)).isoformat()
    for ids, timestamp in ((range(300), last_month_call), (range(300, 350), current_call)):
        response = requests.post(
            f"{live_url}/api/v1/events/batch",
            headers={"Authorization": f"Bearer {raw_key}"},
            json={
                "events": [
                    {
                        "event_id": f"call-{n}",
                        "event_name": "api_call",
                        "external_customer_id": "globex",
                        "timestamp": timestamp,
                    }
                    for n in ids
                ]
            },
            timeout=30,
        )
        assert response.status_code == 202, response.text
    page.reload()
    page.shots("customer-with-usage")
    if now.day > 1 or now.hour > 0:  # the last minute was in the current period
        assert "Api Calls: 50" in page.inner_text("#panel-usage")

    # The upcoming invoice says what the API says.
    api_upcoming = requests.get(
        f"{live_url}/api/v1/customers/globex/upcoming-invoice",
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=30,
    ).json()
    page.click("#upcoming-total")
    page.shots("upcoming-invoice")
    heading = page.inner_text("fieldset.module h2")
    assert heading == "Upcoming invoice — $32.00"  # $29 fee + 300 calls × $0.01
    assert api_upcoming["total"] == "32.00"

    # The cycle closes (the scheduled task; here its command), and the invoice is issued.
    call_command("close_cycles")
    page.goto(f"{live_url}/admin/")
    page.shots("dashboard-issued")
    assert figure(page, "outstanding") == "$32.00"

    page.click(".console-nav a:text-is('Invoices')")
    page.shots("invoice-list")
    page.click("#result_list tbody tr:first-child th a")
    page.shots("invoice")
    pdf_url = page.get_attribute("a:text('PDF')", "href")
    pdf = page.request.get(pdf_url)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.goto(pdf_url)  # the browser opens it as a customer would (its viewer, or a download)

    page.go_back()
    page.click("a.record-payment")
    page.shots("record-payment")
    page.click("input[value='Record payment']")
    assert "Payment of $32.00 recorded" in page.inner_text(".messagelist")
    page.shots("invoice-paid")

    page.goto(f"{live_url}/admin/")
    page.shots("dashboard-paid")
    assert figure(page, "outstanding") == "—"
    paid_row = page.locator("#card-status tr", has_text="Paid")
    assert paid_row.inner_text().split()[-1] == "1"


def test_every_console_page_with_the_demo_data(page, live_url):
    """The demo's data on every page an operator opens first, at 1,400 px (screenshots)."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    log_in(page, live_url)
    page.shots("dashboard")
    assert figure(page, "outstanding") != "—"  # the demo has overdue invoices
    assert page.locator("#card-revenue svg rect").count() == 12

    customer = Customer.objects.order_by("pk").first()
    invoice = Invoice.objects.exclude(number=None).order_by("pk").first()
    plan = Plan.objects.order_by("pk").first()
    pages = [
        ("customers", "/admin/customers/customer/", "Customers"),
        ("customer", f"/admin/customers/customer/{customer.pk}/change/", customer.name),
        ("subscriptions", "/admin/customers/subscription/", "Subscriptions"),
        ("plans", "/admin/catalog/plan/", "Plans"),
        ("plan", f"/admin/catalog/plan/{plan.pk}/change/", "Sample bill"),
        ("usage", "/admin/usage/", "Usage by customer"),
        ("events", "/admin/metering/event/", "Events"),
        ("invoices", "/admin/invoices/invoice/", "Invoices"),
        ("invoice", f"/admin/invoices/invoice/{invoice.pk}/change/", invoice.number),
        ("payments", "/admin/payments/payment/", "Payments"),
        ("overdue", "/admin/payments/overdueinvoice/", "Overdue"),
        ("api-root", "/api/v1/", "Tally API"),
    ]
    for name, path, expected in pages:
        response = page.goto(f"{live_url}{path}")
        assert response.status == 200, path
        page.shots(name)
        assert expected in page.content(), path
    # At 1,400 px the lists fit: no horizontal scrolling.
    for path in (
        "/admin/invoices/invoice/",
        "/admin/metering/event/",
        "/admin/customers/customer/",
    ):
        page.goto(f"{live_url}{path}")
        overflow = page.evaluate(
            "() => { const r = document.querySelector('#changelist .results');"
            " return r.scrollWidth - r.clientWidth; }"
        )
        assert overflow <= 0, path
