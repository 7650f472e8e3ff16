"""What the customer reads on the hosted invoice page in each state, and the operator's
receivables: the Overdue list with days overdue, and per customer outstanding and overdue."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoices.documents import invoice_hosted_url
from invoices.models import Invoice
from payments.services import payment_record_manual
from tests.factories import CustomerFactory, FinalizedInvoiceFactory


def hosted(client, invoice) -> str:
    url = invoice_hosted_url(invoice=invoice).removeprefix("http://testserver")
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def due_in(days: int, **fields):
    today = timezone.now().date()
    return FinalizedInvoiceFactory(due_date=today + timedelta(days=days), **fields)


def record(invoice, amount: str):
    return payment_record_manual(
        invoice=invoice, amount=Decimal(amount), method="bank_transfer", at=timezone.now()
    )


@pytest.mark.django_db
def test_an_open_invoice_says_due_on_with_the_amount_remaining(client):
    invoice = due_in(10)
    body = hosted(client, invoice)
    assert f"Due on {invoice.due_date:%b} {invoice.due_date.day}, {invoice.due_date.year}" in body
    assert "Amount remaining: $1,600.00" in body
    page_text = body.split("</style>")[-1]
    assert "finalized" not in page_text.lower()  # the internal word never reaches a customer
    assert "Pay now" not in body  # the gateway is off


@pytest.mark.django_db
def test_a_partly_paid_invoice_shows_what_remains(client):
    invoice = due_in(10)
    record(invoice, "600.00")
    body = hosted(client, invoice)
    assert "Amount remaining: $1,000.00" in body
    assert "paid so far: $600.00 of $1,600.00" in body


@pytest.mark.django_db
def test_an_overdue_invoice_says_since_when(client):
    invoice = due_in(-5)
    since = invoice.due_date + timedelta(days=1)
    body = hosted(client, invoice)
    assert f"Overdue since {since:%b} {since.day}, {since.year}" in body
    assert "Amount remaining: $1,600.00" in body


@pytest.mark.django_db
def test_a_paid_invoice_says_paid_on(client):
    invoice = due_in(-5)
    payment = record(invoice, "1600.00")
    paid = payment.settled_at.date()
    body = hosted(client, invoice)
    assert f"Paid on {paid:%b} {paid.day}, {paid.year}" in body
    assert "Amount remaining" not in body and "Overdue" not in body


@pytest.mark.django_db
def test_a_void_invoice_says_nothing_is_owed(client):
    invoice = due_in(-5)
    Invoice.objects.filter(pk=invoice.pk).update(status="void")
    body = hosted(client, invoice)
    assert "This invoice was voided: nothing is owed on it." in body and "Overdue" not in body


@pytest.mark.django_db
def test_the_overdue_list_and_the_customers_receivables(admin_client):
    customer = CustomerFactory(name="Late Payer Ltd")
    late = due_in(-12, customer=customer, number="INV-2026-000901")
    record(late, "100.00")
    due_in(-3, customer=customer, number="INV-2026-000902", amount_due=Decimal("50.00"))
    due_in(7, customer=customer, number="INV-2026-000903", amount_due=Decimal("20.00"))
    paid = due_in(-30, customer=customer, number="INV-2026-000904")
    record(paid, "1600.00")

    page = admin_client.get("/admin/payments/overdueinvoice/").content.decode()

    assert "INV-2026-000901" in page and "INV-2026-000902" in page
    assert "INV-2026-000903" not in page and "INV-2026-000904" not in page
    assert "$1,500.00" in page  # remaining on 901
    assert '<td class="field-days_overdue">12</td>' in page

    customer_page = admin_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    summary = customer_page.content.decode().split('id="panel-summary"')[1].split("</div>")[0]
    assert "Outstanding" in summary and "$1,570.00" in summary
    assert "overdue $1,550.00 (2 invoices)" in summary
