"""Manual payments (bank transfer, cheque) from the API and the admin; the invoice shape's
payment fields; a zero amount due is paid at finalization; the gateway off."""

from decimal import Decimal

import pytest
from django.utils import timezone

from invoices.models import Invoice
from payments.models import Payment, Refund
from tests.factories import CustomerFactory, FinalizedInvoiceFactory
from tests.payments.helpers import issued_invoice


@pytest.fixture
def invoice(db):
    return FinalizedInvoiceFactory(amount_due=Decimal("1600.00"), total=Decimal("1600.00"))


def pay(api_client, invoice, **body):
    return api_client.post(f"/api/v1/invoices/{invoice.pk}/payments", body, format="json")


def test_a_partial_then_a_full_manual_payment(api_client, invoice):
    first = pay(api_client, invoice, amount="600.00", method="bank_transfer", reference="WIRE-1")

    assert first.status_code == 201, first.json()
    assert first.json()["amount"] == "600.00"
    assert (first.json()["gateway"], first.json()["status"]) == ("manual", "succeeded")
    shape = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shape["status"], shape["payment_status"]) == ("finalized", "partially_paid")
    assert (shape["amount_paid"], shape["amount_remaining"]) == ("600.00", "1000.00")
    assert shape["paid_at"] is None

    second = pay(
        api_client, invoice, amount="1000", method="cheque", paid_at="2026-02-10T09:00:00Z"
    )

    assert second.status_code == 201
    shape = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shape["status"], shape["payment_status"]) == ("paid", "paid")
    assert (shape["amount_paid"], shape["amount_remaining"]) == ("1600.00", "0.00")
    assert shape["paid_at"] == "2026-02-10T09:00:00Z"
    listed = api_client.get(f"/api/v1/payments?invoice={invoice.pk}").json()
    assert [(p["amount"], p["method"], p["reference"]) for p in listed] == [
        ("600.00", "bank_transfer", "WIRE-1"),
        ("1000.00", "cheque", ""),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "1600.01", "method": "bank_transfer"}, "amount"),  # over-payment
        ({"amount": "0", "method": "bank_transfer"}, "amount"),
        ({"amount": "10.001", "method": "bank_transfer"}, "amount"),  # USD has 2 decimals
        ({"amount": "10", "method": "bitcoin"}, "method"),
        ({"amount": "10", "method": "cheque", "paid_at": "2099-01-01T00:00:00Z"}, "paid_at"),
        ({"amount": "10", "method": "cheque", "reference": "x" * 201}, "reference"),
        ({"amount": "1e400", "method": "cheque"}, "amount"),
        ({"amount": "10", "method": "cheque", "note": "typo"}, "note"),  # unknown field
    ],
)
def test_bad_manual_payments_are_refused_and_nothing_is_recorded(api_client, invoice, body, field):
    response = pay(api_client, invoice, **body)

    assert response.status_code == 400
    assert field in response.json()
    assert not Payment.objects.exists()


def test_over_payment_after_a_partial_one_says_what_is_owed(api_client, invoice):
    pay(api_client, invoice, amount="1500", method="bank_transfer")
    response = pay(api_client, invoice, amount="100.01", method="bank_transfer")
    assert response.status_code == 400
    assert "100.00 USD still owed" in response.json()["amount"][0]


def test_payments_on_a_draft_or_a_paid_invoice_conflict(api_client, invoice):
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    assert pay(api_client, draft, amount="1", method="cheque").status_code == 409
    assert pay(api_client, invoice, amount="1600", method="cheque").status_code == 201
    assert pay(api_client, invoice, amount="1", method="cheque").status_code == 409
    assert api_client.post("/api/v1/invoices/999999/payments", {}).status_code == 404
    assert api_client.get("/api/v1/payments?invoice=abc").status_code == 400


def test_a_repeated_request_with_the_same_idempotency_key_records_once(api_client, invoice):
    body = {"amount": "100.00", "method": "bank_transfer"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "bank-import-42"}
    first = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/payments", body, format="json", **headers
    )
    again = api_client.post(
        f"/api/v1/invoices/{invoice.pk}/payments", body, format="json", **headers
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Payment.objects.count() == 1


def test_a_manual_refund_is_a_ledger_row(api_client, invoice):
    payment_id = pay(api_client, invoice, amount="1600", method="bank_transfer").json()["id"]

    response = api_client.post(
        f"/api/v1/payments/{payment_id}/refund", {"amount": "100.00"}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["amount_refunded"]) == (
        "partially_refunded",
        "100.00",
    )
    assert [r.amount for r in Refund.objects.all()] == [Decimal("100.00")]
    shape = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (shape["status"], shape["amount_paid"]) == ("paid", "1500.00")


def test_pay_now_without_the_gateway_conflicts(api_client, invoice):
    response = api_client.post(f"/api/v1/invoices/{invoice.pk}/pay")
    assert response.status_code == 409
    assert "STRIPE_SECRET_KEY" in response.json()["detail"]


def test_a_zero_amount_due_invoice_is_paid_at_finalization(db):
    invoice = issued_invoice(amount="0.00")
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert invoice.paid_at == invoice.issued_at


def test_invoice_list_reads_the_ledger_once(api_client, django_assert_max_num_queries):
    customer = CustomerFactory()
    for _ in range(5):
        FinalizedInvoiceFactory(customer=customer)
    with django_assert_max_num_queries(8):
        response = api_client.get(f"/api/v1/invoices?customer={customer.external_id}")
    assert [row["amount_remaining"] for row in response.json()] == ["1600.00"] * 5


def test_admin_records_a_payment_and_shows_the_gateway_is_off(admin_client, invoice):
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "The Stripe gateway is off" in page
    assert "Record payment" in page
    form = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/record-payment/")
    assert form.context["form"].initial["amount"] == Decimal("1600.00")  # the remainder

    response = admin_client.post(
        f"/admin/invoices/invoice/{invoice.pk}/record-payment/",
        {
            "amount": "1600.00",
            "paid_on": timezone.now().date().isoformat(),
            "method": "bank_transfer",
            "reference": "WIRE-77",
        },
    )

    assert response.status_code == 302
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "WIRE-77" in page and "Record payment" not in page


def test_admin_refuses_an_over_payment_on_the_form(admin_client, invoice):
    response = admin_client.post(
        f"/admin/invoices/invoice/{invoice.pk}/record-payment/",
        {"amount": "2000", "paid_on": timezone.now().date().isoformat(), "method": "cheque"},
    )
    assert response.status_code == 200
    assert "Over-payment" in response.content.decode()
    assert not Payment.objects.exists()


def test_the_payments_admin_lists_the_ledger_with_refunds(admin_client, invoice, api_client):
    payment_id = pay(api_client, invoice, amount="1600", method="cheque", reference="CHQ-9").json()[
        "id"
    ]
    api_client.post(f"/api/v1/payments/{payment_id}/refund", {"amount": "10"}, format="json")

    listing = admin_client.get("/admin/payments/payment/").content.decode()
    detail = admin_client.get(f"/admin/payments/payment/{payment_id}/change/").content.decode()

    assert "$1,600.00" in listing and "Partially refunded" in listing
    assert "CHQ-9" in detail and "10.000000" in detail
    assert admin_client.get("/admin/payments/stripecustomer/").status_code == 200
