"""The receivables aging (docs/operations.md, "Finance"): what customers owed on a fixed date,
by days past due, per customer and currency, with totals; its API and CSV."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finance.selectors import aging_bucket, receivables_aging
from invoices.services import invoice_void
from invoices.services.credit_notes import credit_note_issue
from payments.services.manual import payment_record_manual
from payments.services.refunds import payment_refund
from tests.factories import CustomerFactory, FinalizedInvoiceFactory
from tests.invoices.helpers import utc

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 6, 30)


@pytest.mark.parametrize(
    "days, bucket",
    [
        (-5, "current"),
        (0, "current"),
        (1, "days_1_30"),
        (30, "days_1_30"),
        (31, "days_31_60"),
        (60, "days_31_60"),
        (61, "days_61_90"),
        (90, "days_61_90"),
        (91, "days_over_90"),
        (4000, "days_over_90"),
    ],
)
def test_the_bucket_of_each_boundary(days, bucket):
    assert aging_bucket(days) == bucket


def _invoice(customer, *, days_past_due: int, amount: str, currency: str = "USD"):
    """An invoice issued 10 days before its due date, which lies `days_past_due` before AS_OF."""
    due = date.fromordinal(AS_OF.toordinal() - days_past_due)
    issued = date.fromordinal(due.toordinal() - 10)
    return FinalizedInvoiceFactory(
        customer=customer,
        currency=currency,
        issued_at=utc(issued.year, issued.month, issued.day, 9),
        due_date=due,
        subtotal=Decimal(amount),
        total=Decimal(amount),
        amount_due=Decimal(amount),
    )


@pytest.fixture
def ledger():
    acme = CustomerFactory(external_id="acme", name="Acme")
    wonka = CustomerFactory(external_id="wonka", name="Wonka")
    for days in (0, 1, 30, 31, 60, 61, 90, 91):
        _invoice(acme, days_past_due=days, amount=f"{days + 1}.00")
    _invoice(wonka, days_past_due=-3, amount="500.00")  # not due yet
    _invoice(wonka, days_past_due=45, amount="9000", currency="JPY")
    return acme, wonka


def _row(report, customer: str, currency: str = "USD"):
    return next(r for r in report.rows if (r.customer, r.currency) == (customer, currency))


def test_invoices_fall_in_their_buckets_on_a_fixed_date(ledger):
    report = receivables_aging(as_of=AS_OF)
    acme = _row(report, "acme")
    assert acme.buckets == {
        "current": Decimal("1.00"),  # 0 days past due
        "days_1_30": Decimal("2.00") + Decimal("31.00"),  # 1 and 30 days
        "days_31_60": Decimal("32.00") + Decimal("61.00"),  # 31 and 60
        "days_61_90": Decimal("62.00") + Decimal("91.00"),  # 61 and 90
        "days_over_90": Decimal("92.00"),  # 91
    }
    assert acme.invoices == 8
    assert _row(report, "wonka").buckets["current"] == Decimal("500.00")
    assert _row(report, "wonka", "JPY").buckets["days_31_60"] == Decimal("9000")
    # Totals per currency, never across them.
    assert [(t.currency, t.total) for t in report.totals] == [
        ("JPY", Decimal("9000")),
        ("USD", Decimal("872.00")),
    ]


def test_payments_credit_notes_and_voids_count_as_of_their_dates(ledger):
    acme, _ = ledger
    invoice = acme.invoices.get(total=Decimal("92.00"))  # 91 days past due on AS_OF
    payment = payment_record_manual(
        invoice=invoice,
        amount=Decimal("50.00"),
        method="bank_transfer",
        paid_at=utc(2026, 6, 30, 23),
        at=utc(2026, 7, 1),
    )
    later = acme.invoices.get(total=Decimal("62.00"))
    payment_record_manual(
        invoice=later,
        amount=Decimal("62.00"),
        method="cash",
        paid_at=utc(2026, 7, 1),
        at=utc(2026, 7, 1),
    )
    payment_refund(payment=payment, amount=Decimal("10.00"), at=utc(2026, 7, 2))
    credit_note_issue(
        invoice=acme.invoices.get(total=Decimal("1.00")),
        amount=Decimal("1.00"),
        reason="Goodwill",
        outcome="next_invoice",
        at=utc(2026, 6, 1),
    )
    invoice_void(invoice=acme.invoices.get(total=Decimal("2.00")), at=utc(2026, 6, 15))

    buckets = _row(receivables_aging(as_of=AS_OF), "acme").buckets
    assert buckets["days_over_90"] == Decimal("42.00")  # paid 50 by the end of June 30
    assert buckets["days_61_90"] == Decimal("153.00")  # paid on July 1: still owed on June 30
    assert buckets["current"] == Decimal("0")  # credited in full on June 1
    assert buckets["days_1_30"] == Decimal("31.00")  # the 2.00 invoice was voided
    # A week later: the refund of 10 is owed again (92 − 50 + 10), the 91.00 invoice is 97 days
    # past due, and the one paid on July 1 owes nothing.
    later_buckets = _row(receivables_aging(as_of=date(2026, 7, 7)), "acme").buckets
    assert later_buckets["days_over_90"] == Decimal("52.00") + Decimal("91.00")
    assert later_buckets["days_61_90"] == Decimal("61.00")
    # Before an invoice was issued it was owed by nobody.
    assert receivables_aging(as_of=date(2026, 1, 1)).rows == []


def test_the_aging_api_and_its_refusals(api_client, ledger):
    body = api_client.get("/api/v1/receivables-aging?as_of=2026-06-30").json()
    assert body["as_of"] == "2026-06-30"
    acme = next(row for row in body["customers"] if row["customer"] == "acme")
    assert (acme["days_over_90"], acme["total"], acme["invoices"]) == ("92.00", "372.00", 8)
    assert [t["total"] for t in body["totals"]] == ["9000", "872.00"]
    for bad in ("2026-02-30", "30/06/2026", "2026-6-30", "1999-12-31"):
        response = api_client.get(f"/api/v1/receivables-aging?as_of={bad}")
        assert response.status_code == 400, bad
        assert "as_of" in response.json()


def test_the_aging_csv_adds_up_per_currency(client, ledger, finance_viewer):
    client.force_login(finance_viewer)
    response = client.get("/admin/finance/receivablesaging/csv/?as_of=2026-06-30")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    usd = [row for row in rows if row["currency"] == "USD"]
    customers, (total,) = usd[:-1], usd[-1:]
    assert total["customer_name"] == "Total"
    assert sum(Decimal(row["total"]) for row in customers) == Decimal(total["total"])
    assert Decimal(total["total"]) == Decimal("872.00")
    bad = client.get("/admin/finance/receivablesaging/csv/?as_of=yesterday")
    assert bad.status_code == 400
