"""Credit notes moving money (docs/operations.md, "Credit notes"): a partial note refunded
through Stripe (localstripe), one credited to the wallet, one offset on the next invoice, and
the invoice's amount remaining and status following."""

from decimal import Decimal

import pytest

from customers.models import Wallet
from customers.selectors import wallet_balance
from invoices.models import CreditNote
from payments.models import Payment, Refund
from tests.factories import CustomerFactory, FeeLineFactory
from tests.payments.conftest import stripe_get
from tests.payments.helpers import issued_invoice, saved_card, utc

pytestmark = pytest.mark.django_db(transaction=True)


def _issued_with_lines(customer, **fields):
    from invoices.services import invoice_finalize
    from tests.factories import FinalizedInvoiceFactory

    draft = FinalizedInvoiceFactory(
        customer=customer,
        status="draft",
        number=None,
        issued_at=None,
        due_date=None,
        subtotal=Decimal("100.00"),
        total=Decimal("100.00"),
        amount_due=Decimal("100.00"),
        **fields,
    )
    fee = FeeLineFactory(invoice=draft, amount=Decimal("60.00"), description="Team fee")
    setup = FeeLineFactory(
        invoice=draft, position=1, kind="setup_fee", amount=Decimal("40.00"), description="Setup"
    )
    invoice = invoice_finalize(invoice=draft, at=utc(2026, 2, 1, 0, 5), refresh=False)
    return invoice, fee, setup


@pytest.mark.localstripe
def test_a_partial_credit_note_by_line_is_refunded_through_stripe(stripe_on, api_client):
    customer = CustomerFactory()
    saved_card(customer)
    invoice, fee, _ = _issued_with_lines(customer)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == "succeeded"

    response = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {
            "lines": [{"line_id": fee.pk, "amount": "25.00"}],
            "reason": "Outage on Jan 12",
            "outcome": "refund",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    note = response.json()
    assert (note["number"], note["total"], note["applied_to_invoice"], note["outcome_amount"]) == (
        "CN-2026-000001",
        "25.00",
        "0.00",
        "25.00",
    )
    assert note["lines"][0]["line_id"] == fee.pk
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.provider_amount) == (Decimal("25.00"), 2500)
    charge = stripe_get(stripe_on, f"/v1/charges/{payment.stripe_charge_id}")
    assert charge["amount_refunded"] == 2500
    shown = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shown["status"], shown["amount_paid"], shown["amount_remaining"]) == (
        "paid",
        "75.00",
        "0.00",
    )
    assert shown["amount_credited"] == "25.00"
    assert [n["number"] for n in shown["credit_notes"]] == ["CN-2026-000001"]
    # The same line cannot be credited beyond what is left of it (60 − 25 = 35).
    too_much = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"lines": [{"line_id": fee.pk, "amount": "35.01"}], "reason": "x", "outcome": "refund"},
        format="json",
    )
    assert too_much.status_code == 400
    assert "35.00" in str(too_much.json())
    assert CreditNote.objects.count() == 1 and Refund.objects.count() == 1


def test_a_partial_credit_note_goes_to_the_wallet_and_pays_the_next_invoice(api_client):
    customer = CustomerFactory()
    invoice, _, _ = _issued_with_lines(customer)
    paid = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/payments",
        {"amount": "100.00", "method": "bank_transfer"},
        format="json",
    )
    assert paid.status_code == 201

    response = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "30.00", "reason": "Goodwill", "outcome": "wallet"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    note = response.json()
    assert (note["number"], note["outcome"], note["outcome_amount"]) == (
        "CN-2026-000001",
        "wallet",
        "30.00",
    )
    wallet = Wallet.objects.get(customer=customer, currency="USD")
    assert wallet_balance(wallet=wallet) == Decimal("30.00")
    assert wallet.transactions.get().source_key == f"credit_note:{note['id']}"
    shown = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shown["status"], shown["amount_remaining"]) == ("paid", "0.00")
    # The wallet pays 30.00 of the customer's next invoice at its finalization.
    following = issued_invoice(customer=customer, amount="50.00", at=utc(2026, 3, 1))
    assert (following.credits_applied, following.amount_due) == (Decimal("30.00"), Decimal("20.00"))


def test_credit_on_an_unpaid_invoice_lowers_what_is_owed_and_a_full_one_settles_it(api_client):
    customer = CustomerFactory()
    invoice, _, _ = _issued_with_lines(customer)

    first = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "40.00", "reason": "Setup waived", "outcome": "refund"},
        format="json",
    )
    assert first.status_code == 201
    assert (first.json()["applied_to_invoice"], first.json()["outcome_amount"]) == ("40.00", "0.00")
    shown = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shown["status"], shown["amount_remaining"]) == ("finalized", "60.00")

    rest = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "60.00", "reason": "Not used", "outcome": "next_invoice"},
        format="json",
    )
    assert rest.json()["number"] == "CN-2026-000002"
    shown = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shown["status"], shown["amount_remaining"]) == ("paid", "0.00")
    nothing_left = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "0.01", "reason": "More", "outcome": "wallet"},
        format="json",
    )
    assert nothing_left.status_code == 400
    assert "only 0.00 USD" in str(nothing_left.json())


def test_a_next_invoice_credit_note_is_taken_off_the_next_invoice(api_client):
    customer = CustomerFactory()
    invoice, _, _ = _issued_with_lines(customer)
    api_client.post(
        f"/api/v1/invoices/{invoice.pk}/payments",
        {"amount": "100.00", "method": "bank_transfer"},
        format="json",
    )
    note = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "70.00", "reason": "Downgrade", "outcome": "next_invoice"},
        format="json",
    ).json()

    following = issued_invoice(customer=customer, amount="50.00", at=utc(2026, 3, 1))
    after = issued_invoice(customer=customer, amount="50.00", at=utc(2026, 4, 1))

    shown = [api_client.get(f"/api/v1/invoices/{i.pk}").json() for i in (following, after)]
    assert [(s["amount_credited"], s["amount_remaining"], s["status"]) for s in shown] == [
        ("50.00", "0.00", "paid"),
        ("20.00", "30.00", "finalized"),
    ]
    listed = api_client.get("/api/v1/credit-notes", {"customer": customer.external_id}).json()
    assert [(n["number"], n["offset_used"]) for n in listed] == [(note["number"], "70.00")]


def test_voiding_an_invoice_gives_back_the_next_invoice_credit_it_took(api_client):
    from invoices.services import invoice_void

    customer = CustomerFactory()
    invoice, _, _ = _issued_with_lines(customer)
    api_client.post(
        f"/api/v1/invoices/{invoice.pk}/payments",
        {"amount": "100.00", "method": "bank_transfer"},
        format="json",
    )
    api_client.post(
        f"/api/v1/invoices/{invoice.pk}/credit-notes",
        {"amount": "30.00", "reason": "Downgrade", "outcome": "next_invoice"},
        format="json",
    )
    taker = issued_invoice(customer=customer, amount="50.00", at=utc(2026, 3, 1))
    assert taker.amount_credited == Decimal("30.00")

    invoice_void(invoice=taker, at=utc(2026, 3, 2), reissue=False)
    following = issued_invoice(customer=customer, amount="50.00", at=utc(2026, 4, 1))

    assert following.amount_credited == Decimal("30.00")
    assert CreditNote.objects.get().offset_used == Decimal("30.00")
