"""The operator's pages: customer list and page; subscribe, change plan, cancel; subscriptions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from customers.models import Customer, Subscription
from customers.services import subscription_change_plan
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme", name="Acme Corp", currency="USD")


@pytest.fixture
def starter():
    return PlanFactory(code="starter", name="Starter", base_amount=Decimal("10.00"))


@pytest.fixture
def pro():
    return PlanFactory(code="pro", name="Pro", base_amount=Decimal("50.00"))


def customer_url(customer, suffix=""):
    return f"/admin/customers/customer/{customer.pk}/{suffix}"


def test_customer_list_searches_and_filters(admin_client, acme, pro):
    SubscriptionFactory(customer=acme, plan=pro)
    CustomerFactory(external_id="globex", name="Globex")

    everyone = admin_client.get("/admin/customers/customer/").content.decode()
    searched = admin_client.get("/admin/customers/customer/", {"q": "acme"}).content.decode()
    without = admin_client.get("/admin/customers/customer/", {"subscription": "none"})

    assert "Acme Corp" in everyone and "Globex" in everyone
    assert "pro" in everyone  # the plan column
    assert "Acme Corp" in searched and "Globex" not in searched
    assert "Globex" in without.content.decode()
    assert "Acme Corp" not in without.content.decode()


def test_add_a_customer_through_the_admin(admin_client):
    response = admin_client.post(
        "/admin/customers/customer/add/",
        {
            "external_id": "initech",
            "name": "Initech",
            "email": "ap@initech.example",
            "currency": "eur",
            "net_payment_terms_days": "30",
            "invoice_grace_period_hours": "0",
            "country": "de",
            "metadata": "{}",
        },
    )

    assert response.status_code == 302, response.content.decode()
    customer = Customer.objects.get(external_id="initech")
    assert (customer.currency, customer.country, customer.net_payment_terms_days) == (
        "EUR",
        "DE",
        30,
    )


def test_a_bad_currency_is_shown_on_the_form(admin_client):
    response = admin_client.post(
        "/admin/customers/customer/add/",
        {
            "external_id": "initech",
            "name": "Initech",
            "currency": "ABC",
            "net_payment_terms_days": "0",
            "invoice_grace_period_hours": "0",
            "metadata": "[1]",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "&#x27;ABC&#x27; is not a known ISO 4217 currency code" in page
    assert "metadata must be a JSON object." in page
    assert not Customer.objects.exists()


def test_customer_page_shows_subscriptions_periods_and_phases(admin_client, acme, starter, pro):
    now = timezone.now()
    subscription = SubscriptionFactory(customer=acme, plan=pro, started_at=now - timedelta(days=3))

    subscription_change_plan(subscription=subscription, plan=starter, at=now)

    page = admin_client.get(customer_url(acme, "change/")).content.decode()

    assert f"Subscription #{subscription.pk}" in page
    assert "Current period" in page and "Next billing date" in page
    end = subscription.current_period_end
    assert f"{end:%b} {end.day}, {end.year} {end:%H:%M} UTC" in page  # started mid-day
    assert "Pro (pro v1)" in page and "Starter (starter v1)" in page
    assert "Downgrade" in page
    assert f"subscriptions/{subscription.pk}/change-plan/" in page
    assert f"subscriptions/{subscription.pk}/cancel/" in page
    assert "Subscribe to a plan" in page
    # The customer is billed in USD already: its currency is no longer an input.
    assert 'name="currency"' not in page


def test_subscribe_from_the_customer_page(admin_client, acme, pro):
    form = admin_client.get(customer_url(acme, "subscribe/")).content.decode()
    assert "Pro (pro v1) — $50.00 / month" in form

    response = admin_client.post(
        customer_url(acme, "subscribe/"),
        {"plan": pro.pk, "started_at": "2026-01-01 00:00", "anchor": "calendar"},
    )

    assert response.status_code == 302
    assert response["Location"] == customer_url(acme, "change/")
    subscription = Subscription.objects.get(customer=acme)
    assert (subscription.plan, subscription.anchor) == (pro, "calendar")
    assert subscription.current_period_end.isoformat() == "2026-02-01T00:00:00+00:00"


def test_a_refused_subscription_is_explained_and_nothing_is_created(admin_client, acme, pro):
    SubscriptionFactory(customer=acme, plan=pro)

    response = admin_client.post(
        customer_url(acme, "subscribe/"),
        {"plan": pro.pk, "started_at": "2026-01-01 00:00", "anchor": "anniversary"},
    )

    assert response.status_code == 200
    assert "already has a live subscription" in response.content.decode()
    assert Subscription.objects.count() == 1


def test_change_plan_and_cancel_from_the_customer_page(admin_client, acme, starter, pro):
    subscription = SubscriptionFactory(customer=acme, plan=starter)
    change_url = customer_url(acme, f"subscriptions/{subscription.pk}/change-plan/")
    cancel_url = customer_url(acme, f"subscriptions/{subscription.pk}/cancel/")

    assert "Phases" in admin_client.get(change_url).content.decode()
    assert admin_client.post(change_url, {"plan": pro.pk}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.plan == pro
    assert [phase.reason for phase in subscription.phases.order_by("starts_at")] == [
        "start",
        "upgrade",
    ]

    same = admin_client.post(change_url, {"plan": pro.pk})
    assert "is already on plan" in same.content.decode()

    assert admin_client.post(cancel_url, {"when": "now"}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    page = admin_client.get(customer_url(acme, "change/")).content.decode()
    assert "Ended at" in page
    assert f"subscriptions/{subscription.pk}/cancel/" not in page


def test_subscription_pages_need_the_subscription_permissions(client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(clerk)

    assert client.get(customer_url(acme, "subscribe/")).status_code == 403
    cancel_url = customer_url(acme, f"subscriptions/{subscription.pk}/cancel/")
    assert client.post(cancel_url, {"when": "now"}).status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == "active"


def test_unknown_customer_or_subscription_is_a_404(admin_client, acme):
    other = SubscriptionFactory()

    assert admin_client.get("/admin/customers/customer/999999/subscribe/").status_code == 404
    url = customer_url(acme, f"subscriptions/{other.pk}/cancel/")
    assert admin_client.get(url).status_code == 404


def test_subscription_list_and_read_only_page(admin_client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)

    listing = admin_client.get("/admin/customers/subscription/", {"status": "active"})
    page = admin_client.get(f"/admin/customers/subscription/{subscription.pk}/change/")

    assert "Acme Corp (acme)" in listing.content.decode()
    assert "pro v1" in listing.content.decode()
    content = page.content.decode()
    assert "Subscription phases" in content
    assert "Change plan" in content
    assert 'name="_save"' not in content
    assert admin_client.get("/admin/customers/subscription/add/").status_code == 403


def test_cancel_at_period_end_action_on_the_list(admin_client, acme, pro):
    subscription = SubscriptionFactory(customer=acme, plan=pro)

    response = admin_client.post(
        "/admin/customers/subscription/",
        {"action": "cancel_at_period_end_action", "_selected_action": [subscription.pk]},
        follow=True,
    )

    assert "1 subscription(s) will cancel at period end." in response.content.decode()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
