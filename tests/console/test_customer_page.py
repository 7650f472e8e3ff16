"""The customer 360 page and usage across customers (docs/operations.md, "The console")."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from catalog.models import Plan
from customers.models import Customer, Subscription
from invoices.models import Invoice
from tests.invoices.helpers import customer, plan, pro_plan, send, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    now = timezone.now()
    month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    acme = customer("acme")
    subscription = subscribe(acme, pro_plan(), started_at=month, at=month)
    send("acme", "api_call", now - timedelta(minutes=2), count=40, at=now)
    return {"customer": acme, "subscription": subscription, "now": now}


def test_the_customer_page_shows_its_panels_in_order(admin_client, acme):
    page = admin_client.get(f"/admin/customers/customer/{acme['customer'].pk}/change/")
    html = page.content.decode()

    order = [html.index(f'id="panel-{name}"') for name in ("summary", "subscriptions", "usage")]
    order += [html.index(f'id="panel-{name}"') for name in ("invoices", "events")]
    assert order == sorted(order)
    assert "<h1>Acme Inc. (acme)</h1>" in html  # the record, not "Change customer"
    usage = html.split('id="panel-usage"')[1].split("</fieldset>")[0]
    assert "40" in usage and "$0.40" in usage and "<svg" in usage
    assert "$29.40" in html.split('id="panel-summary"')[1]  # the upcoming invoice: fee + usage
    assert html.count("api_call</a>") == 10  # the latest ten events


def test_a_viewer_without_invoices_sees_no_money_panels(client, acme, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)
    html = client.get(f"/admin/customers/customer/{acme['customer'].pk}/change/").content.decode()
    assert 'id="panel-subscriptions"' in html
    assert 'id="panel-summary"' not in html and 'id="panel-invoices"' not in html


def test_a_plan_change_is_previewed_and_nothing_is_saved(admin_client, acme):
    bigger = plan("scale", name="Scale", base_amount="99.00", base_timing="in_arrears", charges=[])
    url = (
        f"/admin/customers/customer/{acme['customer'].pk}/subscriptions/"
        f"{acme['subscription'].pk}/change-plan/"
    )
    page = admin_client.get(url).content.decode()
    assert 'name="_preview"' in page

    response = admin_client.post(url, {"plan": bigger.pk, "effective_at": "", "_preview": "1"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="proration-preview"' in html and "Scale fee" in html
    subscription = Subscription.objects.get()
    assert subscription.phases.count() == 1 and subscription.plan.code == "pro"
    assert Invoice.objects.count() == 0


def test_a_new_customer_opens_its_own_page_and_subscribing_names_the_invoices(admin_client):
    pro = pro_plan()
    response = admin_client.post(
        "/admin/customers/customer/add/",
        {
            "external_id": "initech",
            "name": "Initech",
            "currency": "USD",
            "metadata": "{}",
            "net_payment_terms_days": "0",
            "invoice_grace_period_hours": "0",
            "_save": "Save",
        },
    )
    initech = Customer.objects.get(external_id="initech")
    customer_page = f"/admin/customers/customer/{initech.pk}/change/"
    assert response.status_code == 302 and response["Location"] == customer_page

    subscribe_url = f"/admin/customers/customer/{initech.pk}/subscribe/"
    subscribe_page = admin_client.get(subscribe_url).content.decode()
    assert 'type="datetime-local"' in subscribe_page
    assert "T00:00" in subscribe_page  # today at midnight UTC by default

    response = admin_client.post(
        subscribe_url,
        {"plan": pro.pk, "started_at": "2026-01-01T00:00", "anchor": "anniversary"},
        follow=True,
    )
    assert "Subscribed Initech to Pro" in response.content.decode()
    assert "No invoice yet" in response.content.decode()
    assert Plan.objects.count() == 1


def test_usage_across_customers_and_its_csv(admin_client, acme):
    customer("globex")
    send("globex", "api_call", acme["now"] - timedelta(minutes=1), count=7, at=acme["now"])
    send("nobody", "api_call", acme["now"] - timedelta(minutes=1), count=2, at=acme["now"])

    html = admin_client.get("/admin/usage/?meter=api_calls").content.decode()
    assert html.index("acme") < html.index("globex")  # the largest first
    assert "47" in html  # the customers' total: 40 + 7 (events for no customer are not billed)
    assert "nobody" not in html
    csv = b"".join(
        admin_client.get("/admin/usage/", {"meter": "api_calls", "format": "csv"}).streaming_content
    ).decode()
    lines = csv.splitlines()
    assert lines[0] == "meter,customer,customer_name,quantity,unit,events,from,to"
    assert lines[1].startswith("api_calls,acme,Acme Inc.,40,")
    assert lines[2].startswith("api_calls,globex,Globex Inc.,7,") and len(lines) == 3
    bad = admin_client.get("/admin/usage/", {"start": "2026-05-01", "end": "2026-04-01"})
    assert "The end must not be before the start." in bad.content.decode()


def test_a_customer_without_anything_gets_clear_empty_states(admin_client):
    idle = customer("idle")
    html = admin_client.get(f"/admin/customers/customer/{idle.pk}/change/").content.decode()
    assert (
        "No subscription yet." in html and f"/admin/customers/customer/{idle.pk}/subscribe/" in html
    )
    assert "Nothing owed." in html and "No period left to bill." in html
    assert "No invoice yet." in html and "No event received for idle yet." in html


def test_the_page_prices_the_upcoming_invoice_once_for_all_its_panels(admin_client, acme):
    from unittest import mock

    from invoices import selectors

    with mock.patch.object(
        selectors, "_upcoming_invoice", wraps=selectors._upcoming_invoice
    ) as priced:
        html = admin_client.get(f"/admin/customers/customer/{acme['customer'].pk}/change/")
        html = html.content.decode()

    # The summary's total and the wallet's "upcoming" are one pricing of one moment.
    assert priced.call_count == 1
    assert "$29.40" in html.split('id="panel-summary"')[1].split("</fieldset>")[0]
    assert "balance − $29.40 accrued this period" in html
