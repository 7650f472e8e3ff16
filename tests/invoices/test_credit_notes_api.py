"""The finance API's refusals (docs/api.md, "Credit notes, taxes and coupons"), and what the
customer sees: taxes and credit notes on the invoice's PDF and hosted page, the credit note's
own PDF and page."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoices.models import CreditNote, CreditNoteSequence
from tests.factories import CustomerFactory, FeeLineFactory, FinalizedInvoiceFactory

BASE = "http://testserver"
TAXES = [
    {"name": "NY State", "rate": "6.25", "jurisdiction": "US-NY", "amount": "6.25"},
    {"name": "NYC", "rate": "4.5", "jurisdiction": "", "amount": "4.50"},
]


@pytest.fixture
def invoice(db):
    """INV-2026-000123: fee 100.00, taxes 6.25 + 4.50, total 110.75, unpaid."""
    invoice = FinalizedInvoiceFactory(
        number="INV-2026-000123",
        subtotal=Decimal("100.00"),
        tax=Decimal("10.75"),
        total=Decimal("110.75"),
        amount_due=Decimal("110.75"),
        taxes=TAXES,
    )
    FeeLineFactory(invoice=invoice, amount=Decimal("100.00"), description="Team fee")
    return invoice


def _post(api_client, invoice_id, body):
    return api_client.post(f"/api/v1/invoices/{invoice_id}/credit-notes", body, format="json")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"amount": "110.76", "reason": "r", "outcome": "wallet"}, "amount", "110.75"),
        ({"amount": "0", "reason": "r", "outcome": "wallet"}, "amount", "positive"),
        ({"amount": "1.001", "reason": "r", "outcome": "wallet"}, "amount", "2 decimals"),
        ({"amount": "1.00", "reason": "", "outcome": "wallet"}, "reason", ""),
        ({"amount": "1.00", "reason": "r", "outcome": "cash"}, "outcome", ""),
        ({"reason": "r", "outcome": "wallet"}, "non_field_errors", "either"),
        (
            {
                "amount": "1.00",
                "lines": [{"line_id": 1, "amount": "1"}],
                "reason": "r",
                "outcome": "wallet",
            },
            "non_field_errors",
            "either",
        ),
        (
            {"lines": [{"line_id": 999999, "amount": "1.00"}], "reason": "r", "outcome": "wallet"},
            "lines",
            "has no line 999999",
        ),
        ({"amount": "1.00", "reason": "r", "outcome": "wallet", "memo": "x"}, "memo", "Unknown"),
    ],
)
def test_bad_credit_notes_are_refused_with_400_and_change_nothing(
    api_client, invoice, body, field, message
):
    response = _post(api_client, invoice.pk, body)

    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert message in str(response.json())
    assert CreditNote.objects.count() == 0
    assert not CreditNoteSequence.objects.filter(last_number__gt=0).exists()
    invoice.refresh_from_db()
    assert invoice.amount_credited == 0


def test_a_line_is_credited_net_and_the_invoices_rates_are_added(api_client, invoice):
    line = invoice.lines.get()
    response = _post(
        api_client,
        invoice.pk,
        {
            "lines": [{"line_id": line.pk, "amount": "40.00"}],
            "reason": "Outage",
            "outcome": "wallet",
        },
    )
    note = response.json()
    # 40.00 + 6.25 % (2.50) + 4.5 % (1.80) = 44.30, all of it taken off what is owed.
    assert (note["subtotal"], note["tax"], note["total"], note["applied_to_invoice"]) == (
        "40.00",
        "4.30",
        "44.30",
        "44.30",
    )
    assert [(tax["name"], tax["amount"]) for tax in note["taxes"]] == [
        ("NY State", "2.50"),
        ("NYC", "1.80"),
    ]
    over = _post(
        api_client,
        invoice.pk,
        {"lines": [{"line_id": line.pk, "amount": "60.01"}], "reason": "r", "outcome": "wallet"},
    )
    assert over.status_code == 400
    assert "60.00 USD of line" in str(over.json())


def test_drafts_void_invoices_and_unknown_ones_cannot_be_credited(api_client, db):
    draft = FinalizedInvoiceFactory(status="draft", number=None)
    body = {"amount": "1.00", "reason": "r", "outcome": "wallet"}
    assert _post(api_client, draft.pk, body).status_code == 409
    assert _post(api_client, 987654, body).status_code == 404
    assert _post(api_client, "abc", body).status_code == 404


def test_finance_objects_refuse_bad_input(api_client, db):
    bad_rates = [
        {"name": "VAT", "percentage": "0"},
        {"name": "VAT", "percentage": "100.01"},
        {"name": "", "percentage": "5"},
        {"name": "VAT", "percentage": "5.00001"},
    ]
    for body in bad_rates:
        assert api_client.post("/api/v1/tax-rates", body, format="json").status_code == 400, body
    bad_coupons = [
        {"code": "a", "kind": "fixed", "duration": "once"},  # no amount or currency
        {"code": "a", "kind": "fixed", "amount": "5", "currency": "XXX1", "duration": "once"},
        {"code": "a", "kind": "fixed", "amount": "5.001", "currency": "USD", "duration": "once"},
        {"code": "a", "kind": "percentage", "percentage": "101", "duration": "once"},
        {"code": "a", "kind": "percentage", "percentage": "10", "duration": "repeating"},
        {
            "code": "a",
            "kind": "percentage",
            "percentage": "10",
            "duration": "once",
            "duration_periods": 2,
        },
        {
            "code": "a",
            "kind": "percentage",
            "percentage": "10",
            "duration": "once",
            "plans": ["nope"],
        },
    ]
    for body in bad_coupons:
        assert api_client.post("/api/v1/coupons", body, format="json").status_code == 400, body
    ok = {
        "code": "ten",
        "kind": "percentage",
        "percentage": "10",
        "duration": "once",
        "max_redemptions": 1,
    }
    assert api_client.post("/api/v1/coupons", ok, format="json").status_code == 201
    assert api_client.post("/api/v1/coupons", ok, format="json").status_code == 409
    CustomerFactory(external_id="first")
    CustomerFactory(external_id="second")
    give = api_client.post("/api/v1/customers/first/coupons", {"coupon": "ten"}, format="json")
    assert give.status_code == 201
    again = api_client.post("/api/v1/customers/first/coupons", {"coupon": "ten"}, format="json")
    assert (again.status_code, again.json()["id"]) == (201, give.json()["id"])
    used_up = api_client.post("/api/v1/customers/second/coupons", {"coupon": "ten"}, format="json")
    assert used_up.status_code == 409
    assert "limit of 1" in str(used_up.json())
    unknown = api_client.post("/api/v1/customers/second/coupons", {"coupon": "x"}, format="json")
    assert unknown.status_code == 404


def _pdf_text(response) -> str:
    pdf = b"".join(response.streaming_content)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_and_hosted_page_show_taxes_and_credit_notes(api_client, client, invoice):
    note = _post(
        api_client,
        invoice.pk,
        {"amount": "22.15", "reason": "Outage on Jan 12", "outcome": "next_invoice"},
    ).json()
    shown = api_client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert [tax["amount"] for tax in shown["taxes"]] == ["6.25", "4.50"]
    assert shown["amount_remaining"] == "88.60"

    hosted = client.get(shown["hosted_url"].removeprefix(BASE))
    page = hosted.content.decode()
    assert "NY State (6.25 %, US-NY)" in page and "NYC (4.5 %)" in page
    assert "CN-2026-000001" in page and "Outage on Jan 12" in page
    text = _pdf_text(client.get(shown["pdf_url"].removeprefix(BASE)))
    assert "NY State (6.25 %, US-NY)" in text and "$6.25" in text
    assert "CN-2026-000001" in text and "−$22.15" in text

    note_page = client.get(note["hosted_url"].removeprefix(BASE)).content.decode()
    assert "Credit note CN-2026-000001" in note_page and "INV-2026-000123" in note_page
    note_pdf = _pdf_text(client.get(note["pdf_url"].removeprefix(BASE)))
    # 22.15 gross: its tax is 22.15 × 10.75 / 110.75 = 2.15 (1.25 + 0.90), net 20.00.
    assert "CN-2026-000001" in note_pdf and "$22.15" in note_pdf and "$20.00" in note_pdf
    assert client.get(note["pdf_url"].removeprefix(BASE)[:-8] + "x/pdf").status_code == 404


def test_an_exempt_customers_reason_is_printed(client, db):
    customer = CustomerFactory(tax_exempt=True, tax_exempt_reason="Diplomatic mission")
    invoice = FinalizedInvoiceFactory(customer=customer, tax_exempt_reason="Diplomatic mission")
    from invoices.documents import invoice_pdf_url

    text = _pdf_text(client.get(invoice_pdf_url(invoice=invoice).removeprefix(BASE)))
    assert "Tax exempt: Diplomatic mission" in text


def test_a_credit_note_is_announced_by_webhook(api_client, invoice):
    from notifications.models import WebhookEndpoint, WebhookMessage

    WebhookEndpoint.objects.create(url="https://hooks.example/t", secret="whsec_dGVzdA==")
    note = _post(
        api_client, invoice.pk, {"amount": "10.00", "reason": "Goodwill", "outcome": "wallet"}
    ).json()

    body = WebhookMessage.objects.get(event_type="credit_note.created").body
    assert f'"number":"{note["number"]}"' in body
    assert '"total":"10.00"' in body and '"invoice_number":"INV-2026-000123"' in body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_credit_notes_issued_at_once_take_consecutive_numbers_and_never_over_credit():
    """Four notes of 40.00 at once on a 110.75 invoice: the row locks let two through, with
    consecutive numbers; the others are refused (only 30.75 left) and take no number."""
    from tests.invoices.test_concurrency import run_at_once

    invoice = FinalizedInvoiceFactory(
        subtotal=Decimal("100.00"), total=Decimal("110.75"), amount_due=Decimal("110.75")
    )
    FeeLineFactory(invoice=invoice, amount=Decimal("100.00"))
    from billing.errors import AppError
    from invoices.services.credit_notes import credit_note_issue

    def issue():
        try:
            return credit_note_issue(
                invoice=invoice,
                reason="r",
                outcome="wallet",
                at=invoice.issued_at,
                amount=Decimal("40.00"),
            ).number
        except AppError as error:
            return str(error)

    outcomes = run_at_once(issue, count=4)

    numbers = sorted(outcome for outcome in outcomes if outcome.startswith("CN-"))
    assert numbers == ["CN-2026-000001", "CN-2026-000002"]
    assert sum("left to credit" in outcome for outcome in outcomes) == 2
    invoice.refresh_from_db()
    assert invoice.amount_credited == Decimal("80.00")
