"""The operator's pages: the wallet and entitlement panels of the customer page, granting and
voiding credits, the wallets list with its low-balance flag."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.services.features import feature_create
from customers.models import Wallet, WalletTransaction
from customers.selectors import wallet_balance
from customers.services.wallets import wallet_credit, wallet_update
from tests.invoices.helpers import customer, meter, plan, send, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    calls = meter("api_calls")
    feature_create(code="calls", name="API calls", type="metered", meter=calls)
    feature_create(code="seats", name="Seats", type="static")
    team = plan(
        "team",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.50"}],
        features=[
            {"feature": "calls", "limit": "8"},
            {"feature": "seats", "value": "5"},
        ],
    )
    acme = customer("acme", currency="USD")
    now = timezone.now().replace(microsecond=0)
    subscribe(acme, team, started_at=now - timedelta(days=1))
    send("acme", "api_call", now - timedelta(minutes=5), count=6, at=now)
    return acme


def test_the_customer_page_shows_the_wallet_and_entitlement_panels(admin_client, acme):
    wallet_credit(customer=acme, currency="USD", amount="5.00", reason="welcome", source_key="w")
    wallet_update(
        wallet=Wallet.objects.get(), low_balance_threshold=Decimal("10"), at=timezone.now()
    )

    page = admin_client.get(f"/admin/customers/customer/{acme.pk}/change/").content.decode()

    assert 'id="wallet-panel"' in page and "Prepaid credits" in page
    assert "<strong>$5.00</strong>" in page
    assert "Low balance: below $10.00" in page
    assert "balance − $3.00 accrued this period" in page  # 6 calls × $0.50
    assert "$2.00" in page  # the ongoing balance
    assert "welcome" in page and "Grant credits" in page
    assert 'id="entitlements-panel"' in page
    assert "6 of 8 (75%)" in page and "2 left" in page
    assert "width: 75%" in page
    assert "Seats" in page and ">5<" in page


def test_granting_credits_in_the_admin_goes_through_the_wallet_rules(admin_client, acme):
    url = "/admin/customers/wallettransaction/add/"
    assert 'value="USD"' in admin_client.get(f"{url}?customer={acme.pk}").content.decode()
    bad = admin_client.post(
        url, {"customer": acme.pk, "currency": "USD", "amount": "1.005", "priority": "100"}
    )
    assert bad.status_code == 200
    assert "At most 2 decimal places in USD." in bad.content.decode()
    assert not WalletTransaction.objects.exists()

    ok = admin_client.post(
        url,
        {
            "customer": acme.pk,
            "currency": "USD",
            "amount": "12.50",
            "priority": "7",
            "reason": "goodwill",
        },
    )
    assert ok.status_code == 302, ok.content.decode()
    credit = WalletTransaction.objects.get()
    assert (credit.kind, credit.amount, credit.priority, credit.reason) == (
        "grant",
        Decimal("12.50"),
        7,
        "goodwill",
    )
    assert credit.created_by == "admin@example.com"

    listed = admin_client.get("/admin/customers/wallet/").content.decode()
    assert "$12.50" in listed

    admin_client.post(
        "/admin/customers/wallettransaction/",
        {"action": "void_action", "_selected_action": [credit.pk]},
    )
    void = WalletTransaction.objects.get(kind="void")
    assert void.amount == Decimal("-12.50") and void.credit_id == credit.pk
    assert wallet_balance(wallet=credit.wallet) == Decimal("0")


def test_a_subscription_override_is_set_on_its_page(admin_client, acme):
    subscription = acme.subscriptions.get()
    page = admin_client.get(f"/admin/customers/subscription/{subscription.pk}/change/")
    assert "feature override" in page.content.decode().lower()
