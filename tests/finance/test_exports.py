"""CSV exports for a date range (docs/api.md, "Finance"): read back with csv.DictReader and
summed; the API's refusals; the admin's exports page."""

import csv
import io
from decimal import Decimal

import pytest

from invoices.services.credit_notes import credit_note_issue
from payments.services.manual import payment_record_manual
from payments.services.refunds import payment_refund
from tests.factories import CustomerFactory, FeeLineFactory, FinalizedInvoiceFactory
from tests.invoices.helpers import utc

pytestmark = pytest.mark.django_db


def _read(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def march():
    """Three March invoices (two lines each), one in April, one in February."""
    acme = CustomerFactory(external_id="acme")
    invoices = []
    for day, fee, usage in ((1, "29.00", "12.34"), (15, "49.00", "0.01"), (31, "99.99", "100.00")):
        invoice = FinalizedInvoiceFactory(
            customer=acme,
            issued_at=utc(2026, 3, day, 23, 59),
            subtotal=Decimal(fee) + Decimal(usage),
            total=Decimal(fee) + Decimal(usage),
            amount_due=Decimal(fee) + Decimal(usage),
        )
        FeeLineFactory(invoice=invoice, amount=Decimal(fee))
        FeeLineFactory(invoice=invoice, position=1, kind="usage", amount=Decimal(usage))
        invoices.append(invoice)
    FinalizedInvoiceFactory(customer=acme, issued_at=utc(2026, 4, 1), total=Decimal("1.00"))
    FinalizedInvoiceFactory(customer=acme, issued_at=utc(2026, 2, 28, 23, 59))
    return invoices


def test_the_invoices_export_read_back_sums_to_the_invoices_totals(api_client, march):
    rows = _read(api_client.get("/api/v1/exports/invoices.csv?from=2026-03-01&to=2026-03-31"))
    assert [row["number"] for row in rows] == [invoice.number for invoice in march]
    assert sum(Decimal(row["total"]) for row in rows) == sum(i.total for i in march)
    assert sum(Decimal(row["total"]) for row in rows) == Decimal("290.34")
    assert {row["currency"] for row in rows} == {"USD"}
    assert rows[0]["customer"] == "acme" and rows[0]["total"] == "41.34"


def test_the_lines_export_adds_up_to_each_invoices_subtotal(api_client, march):
    rows = _read(api_client.get("/api/v1/exports/lines.csv?from=2026-03-01&to=2026-03-31"))
    assert len(rows) == 6
    for invoice in march:
        lines = [row for row in rows if row["invoice_number"] == invoice.number]
        assert sum(Decimal(row["amount"]) for row in lines) == invoice.subtotal


def test_payments_and_refunds_export_with_refunds_negative(api_client, march):
    first = march[0]
    payment = payment_record_manual(
        invoice=first,
        amount=Decimal("41.34"),
        method="bank_transfer",
        reference="WIRE-7",
        paid_at=utc(2026, 4, 2),
        at=utc(2026, 4, 3),
    )
    payment_refund(payment=payment, amount=Decimal("1.34"), at=utc(2026, 4, 20), reason="Rounding")
    payment_refund(payment=payment, amount=Decimal("5.00"), at=utc(2026, 5, 2))
    rows = _read(api_client.get("/api/v1/exports/payments.csv?from=2026-04-01&to=2026-04-30"))
    assert [(row["type"], row["amount"], row["reference"]) for row in rows] == [
        ("payment", "41.34", "WIRE-7"),
        ("refund", "-1.34", "WIRE-7"),
    ]
    assert rows[1]["reason"] == "Rounding" and rows[1]["invoice_number"] == first.number
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("40.00")


def test_credit_notes_export(api_client, march):
    note = credit_note_issue(
        invoice=march[1],
        amount=Decimal("3.27"),
        reason="Outage, 2 days",
        outcome="wallet",
        at=utc(2026, 3, 20),
    )
    rows = _read(api_client.get("/api/v1/exports/credit-notes.csv?from=2026-03-01&to=2026-03-31"))
    assert [(r["number"], r["invoice_number"], r["total"]) for r in rows] == [
        (note.number, march[1].number, "3.27")
    ]
    assert rows[0]["reason"] == "Outage, 2 days"  # a comma survives the CSV


def test_an_accept_header_for_csv_is_served(api_client, march):
    response = api_client.get(
        "/api/v1/exports/invoices.csv?from=2026-03-01&to=2026-03-01", HTTP_ACCEPT="text/csv"
    )
    assert len(_read(response)) == 1


@pytest.mark.parametrize(
    "query, field",
    [
        ("", "from"),
        ("from=2026-03-01", "to"),
        ("from=2026-03-32&to=2026-04-01", "from"),
        ("from=03/01/2026&to=2026-04-01", "from"),
        ("from=2026-04-02&to=2026-04-01", "from"),
        ("from=2025-01-01&to=2026-01-02", "to"),  # 367 days
        ("from=2026-01-01&to=2200-01-01", "to"),
    ],
)
def test_bad_ranges_are_refused_with_400_in_json(api_client, query, field):
    for kind in ("invoices", "lines", "credit-notes", "payments"):
        response = api_client.get(f"/api/v1/exports/{kind}.csv?{query}", HTTP_ACCEPT="text/csv")
        assert response.status_code == 400, (kind, query)
        assert field in response.json()


def test_a_whole_leap_year_is_allowed(api_client):
    assert (
        api_client.get("/api/v1/exports/invoices.csv?from=2028-01-01&to=2028-12-31").status_code
        == 200
    )


def test_the_admin_exports_page_downloads_the_chosen_csv(client, finance_viewer, march):
    client.force_login(finance_viewer)
    page = client.get("/admin/finance/financeexport/")
    assert page.status_code == 200
    assert b"Download CSV" in page.content
    rows = _read(
        client.get("/admin/finance/financeexport/?kind=invoices&from=2026-03-01&to=2026-03-31")
    )
    assert sum(Decimal(row["total"]) for row in rows) == Decimal("290.34")
    refused = client.get(
        "/admin/finance/financeexport/?kind=invoices&from=2026-03-31&to=2026-03-01"
    )
    assert refused.status_code == 200
    assert b"Must not be after" in refused.content
    unknown = client.get("/admin/finance/financeexport/?kind=secrets&from=2026-03-01&to=2026-03-01")
    assert b"Choose what to export" in unknown.content


def test_each_export_has_its_own_entry_in_the_schema(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    summaries = {
        kind: paths[f"/api/v1/exports/{kind}.csv"]["get"]["summary"]
        for kind in ("invoices", "lines", "credit-notes", "payments")
    }
    assert summaries["invoices"].startswith("Invoices issued")
    assert summaries["credit-notes"].startswith("Credit notes issued")
    assert len(set(summaries.values())) == 4
    assert "text/csv" in paths["/api/v1/exports/lines.csv"]["get"]["responses"]["200"]["content"]
