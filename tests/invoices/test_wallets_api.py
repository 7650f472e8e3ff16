"""The wallet API: balance and ongoing balance in real time, grants, paid top-ups that land only
when paid, the ledger, bounds; credits applied as the invoice API, hosted page and PDF show."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import api_key_create
from customers.models import WalletTransaction
from invoices.documents import invoice_hosted_url
from invoices.models import Invoice
from invoices.pdf import invoice_render_pdf
from invoices.services import cycles_close
from tests.invoices.helpers import customer, plan, subscribe, utc
from tests.invoices.test_pdf import pdf_text

pytestmark = pytest.mark.django_db


def wallet(api_client, external_id="acme"):
    response = api_client.get(f"/api/v1/customers/{external_id}/wallet")
    assert response.status_code == 200, response.json()
    return response.json()


def post(api_client, external_id="acme", **body):
    return api_client.post(
        f"/api/v1/customers/{external_id}/wallet/transactions", body, format="json"
    )


def metered_plan():
    return plan(
        "metered",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.10"}],
    )


def test_a_grant_lands_at_once_and_a_repeated_source_key_grants_once(api_client):
    customer("acme", currency="USD")
    assert wallet(api_client) == {
        "customer": "acme",
        "currency": "USD",
        "balance": "0.00",
        "ongoing_balance": "0.00",
        "upcoming_amount": "0.00",
        "low_balance_threshold": None,
        "low_balance": False,
    }

    first = post(api_client, kind="grant", amount="25.00", reason="welcome", source_key="w-1")
    again = post(api_client, kind="grant", amount="25.00", reason="welcome", source_key="w-1")

    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["kind"], body["amount"], body["priority"], body["reason"]) == (
        "grant",
        "25.00",
        100,
        "welcome",
    )
    assert body["created_by"].startswith("API key test integration")
    assert again.json()["id"] == body["id"]
    assert wallet(api_client)["balance"] == "25.00"
    listed = api_client.get("/api/v1/customers/acme/wallet/transactions").json()
    assert [row["id"] for row in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "consumption", "amount": "5"}, "kind"),
        ({"kind": "grant", "amount": "0"}, "amount"),
        ({"kind": "grant", "amount": "-1"}, "amount"),
        ({"kind": "grant", "amount": "1000000001"}, "amount"),
        ({"kind": "grant", "amount": "1.005"}, "amount"),
        ({"kind": "grant", "amount": "5", "priority": 5000}, "priority"),
        ({"kind": "grant", "amount": "5", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "grant", "amount": "5", "expires_at": "2026-01-01"}, "expires_at"),
        ({"kind": "grant", "amount": "5", "currency": "XXQ"}, "currency"),
        ({"kind": "grant", "amount": "5", "colour": "red"}, "colour"),
        ({"kind": "purchase", "amount": "5", "source_key": "k"}, "source_key"),
    ],
)
def test_bad_transactions_are_refused_and_change_nothing(api_client, body, field):
    customer("acme", currency="USD")
    response = post(api_client, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert not WalletTransaction.objects.exists()
    assert not Invoice.objects.exists()


def test_unknown_customer_is_404_and_a_read_key_cannot_grant(api_client):
    assert api_client.get("/api/v1/customers/nobody/wallet").status_code == 404
    assert post(api_client, "nobody", kind="grant", amount="5").status_code == 404
    customer("newcomer")  # no currency yet: it must be said
    assert api_client.get("/api/v1/customers/newcomer/wallet").status_code == 400
    assert api_client.get("/api/v1/customers/newcomer/wallet?currency=EUR").status_code == 200
    assert api_client.get("/api/v1/customers/newcomer/wallet?currency=ZZZ").status_code == 400
    customer("acme", currency="USD")
    _, raw_key = api_key_create(name="reader", scope="read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert post(api_client, kind="grant", amount="5").status_code == 403
    assert wallet(api_client)["balance"] == "0.00"


def test_a_paid_top_up_lands_only_when_paid(api_client):
    customer("acme", currency="USD")
    response = post(api_client, kind="purchase", amount="50.00", priority=5, reason="March top-up")

    assert response.status_code == 201, response.json()
    invoice = response.json()
    assert (invoice["kind"], invoice["status"], invoice["amount_due"]) == (
        "credit_purchase",
        "finalized",
        "50.00",
    )
    assert invoice["number"].startswith("INV-")
    assert invoice["lines"][0]["description"] == "Prepaid credits (50.00 USD)"
    assert wallet(api_client)["balance"] == "0.00"  # not paid yet
    text = pdf_text(invoice_render_pdf(invoice=Invoice.objects.get(pk=invoice["id"])))
    assert "Prepaid credits (50.00 USD)" in text and "$50.00" in text

    partial = api_client.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        {"amount": "20.00", "method": "bank_transfer"},
        format="json",
    )
    assert partial.status_code == 201
    assert wallet(api_client)["balance"] == "0.00"  # paid in part: still nothing

    rest = api_client.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        {"amount": "30.00", "method": "bank_transfer"},
        format="json",
    )
    assert rest.status_code == 201
    assert wallet(api_client)["balance"] == "50.00"
    credit = WalletTransaction.objects.get()
    assert (credit.kind, credit.priority, credit.invoice_ref, credit.reason) == (
        "purchase",
        5,
        invoice["id"],
        "March top-up",
    )


def test_the_ongoing_balance_moves_as_events_land(api_client):
    started = timezone.now().replace(microsecond=0) - timedelta(days=1)
    subscribe(customer("acme", currency="USD"), metered_plan(), started_at=started)
    post(api_client, kind="grant", amount="10.00")

    def send(count):
        events = [{"event_name": "api_call", "external_customer_id": "acme"} for _ in range(count)]
        response = api_client.post("/api/v1/events/batch", {"events": events}, format="json")
        assert response.status_code == 202

    seen = []
    for count in (3, 5, 12):
        send(count)
        body = wallet(api_client)
        upcoming = api_client.get("/api/v1/customers/acme/upcoming-invoice").json()
        assert Decimal(body["ongoing_balance"]) == Decimal(body["balance"]) - Decimal(
            upcoming["amount_due"]
        )
        seen.append((body["balance"], body["upcoming_amount"], body["ongoing_balance"]))

    assert seen == [
        ("10.00", "0.30", "9.70"),
        ("10.00", "0.80", "9.20"),
        ("10.00", "2.00", "8.00"),
    ]


def test_credits_applied_show_on_the_invoice_api_hosted_page_and_pdf(api_client, client):
    acme = customer("acme", currency="USD")
    subscribe(
        acme,
        plan("monthly", base_amount="29.00", base_timing="in_arrears"),
        started_at=utc(2026, 1, 1),
    )
    post(api_client, kind="grant", amount="20.00")
    cycles_close(at=utc(2026, 2, 1))
    invoice = Invoice.objects.get(kind="subscription")

    shape = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shape["total"], shape["credits_applied"], shape["amount_due"]) == (
        "29.00",
        "20.00",
        "9.00",
    )
    assert shape["amount_remaining"] == "9.00"
    page = client.get(invoice_hosted_url(invoice=invoice).removeprefix("http://testserver"))
    html = page.content.decode()
    assert "Credits applied" in html and "−$20.00" in html and "$9.00" in html
    text = pdf_text(invoice_render_pdf(invoice=invoice))
    assert "Credits applied" in text and "$20.00" in text and "$9.00" in text
    assert wallet(api_client)["balance"] == "0.00"


def test_the_low_balance_threshold_is_set_and_bounded(api_client):
    customer("acme", currency="USD")
    url = "/api/v1/customers/acme/wallet"
    bad = api_client.patch(url, {"low_balance_threshold": "-1"}, format="json")
    assert bad.status_code == 400
    ok = api_client.patch(url, {"low_balance_threshold": "5.00"}, format="json")
    assert ok.status_code == 200
    assert (ok.json()["low_balance_threshold"], ok.json()["low_balance"]) == ("5.00", True)
    post(api_client, kind="grant", amount="6.00")
    assert wallet(api_client)["low_balance"] is False


def test_a_plan_that_cannot_be_priced_leaves_the_ongoing_balance_null_not_a_500(api_client):
    from tests.factories import ChargeFactory, PlanFactory, SubscriptionFactory, TierFactory

    plan = PlanFactory(code="broken")
    charge = ChargeFactory(plan=plan, model="graduated", unit_amount=None)
    TierFactory(charge=charge, up_to=None, unit_amount=Decimal("0.40"), position=0)
    TierFactory(charge=charge, up_to=Decimal("1000"), unit_amount=Decimal("0.80"), position=1)
    SubscriptionFactory(customer=customer("acme", currency="USD"), plan=plan)
    post(api_client, kind="grant", amount="10.00")

    body = wallet(api_client)
    assert (body["balance"], body["upcoming_amount"], body["ongoing_balance"]) == (
        "10.00",
        None,
        None,
    )
