"""Revenue recognition through the real close (docs/operations.md, "Finance"): schedules
written at finalization, idempotently; the monthly report and its API."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from finance.models import RevenueEntry, RevenueSchedule, RevenueSource
from finance.services import revenue_sync
from invoices.models import CreditNote, Invoice, InvoiceStatus, LineKind
from invoices.services import cycles_close, invoice_void
from invoices.services.credit_notes import LineCredit, credit_note_issue
from tests.factories import FeeLineFactory, FinalizedInvoiceFactory
from tests.invoices.helpers import customer, plan, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

MONTHLY = [
    "101.92", "92.05", "101.92", "98.63", "101.92", "98.63",
    "101.92", "101.91", "98.63", "101.92", "98.63", "101.92",
]  # fmt: skip


def annual_customer(external_id: str = "acme", currency: str = "USD") -> Invoice:
    """A customer on a yearly 1,200 plan billed in advance from 2026-01-01: the opening
    invoice, issued at the start, bills the whole year."""
    yearly = plan(
        f"yearly-{currency.lower()}",
        interval="year",
        currency=currency,
        base_amount="1200.00" if currency != "JPY" else "120000",
        base_timing="in_advance",
    )
    subscribe(customer(external_id), yearly, started_at=utc(2026, 1, 1))
    cycles_close(at=utc(2026, 1, 1))
    return Invoice.objects.get(customer__external_id=external_id)


def net_by_month() -> dict[date, Decimal]:
    """Σ entries per month, summed exactly in Python (SQLite sums decimals as floats)."""
    net: dict[date, Decimal] = {}
    for month, amount in RevenueEntry.objects.values_list("month", "amount"):
        net[month] = net.get(month, Decimal(0)) + amount
    return net


def entries_of(schedule: RevenueSchedule) -> list[tuple[str, str]]:
    return [(f"{e.month:%Y-%m}", str(e.amount.normalize())) for e in schedule.entries.all()]


def test_an_annual_in_advance_fee_is_deferred_and_earned_by_day_over_twelve_months():
    invoice = annual_customer()
    assert invoice.status == InvoiceStatus.FINALIZED
    (schedule,) = RevenueSchedule.objects.filter(invoice=invoice)
    assert schedule.amount == Decimal("1200.00")
    assert (schedule.service_start, schedule.service_end) == (date(2026, 1, 1), date(2027, 1, 1))
    amounts = [entry.amount for entry in schedule.entries.all()]
    assert amounts == [Decimal(text) for text in MONTHLY]
    assert sum(amounts) == schedule.amount


def test_the_report_shows_the_fee_billed_in_january_and_deferred_until_earned(api_client):
    annual_customer()
    body = api_client.get("/api/v1/revenue?from=2026-01&to=2027-01").json()
    (usd,) = body["currencies"]
    assert (usd["currency"], usd["billed"], usd["recognised"]) == ("USD", "1200.00", "1200.00")
    months = {row["month"]: row for row in usd["months"]}
    assert months["2026-01"] == {
        "month": "2026-01",
        "billed": "1200.00",
        "recognised": "101.92",
        "deferred": "1098.08",
        "unbilled": "0.00",
    }
    assert months["2026-02"]["billed"] == "0.00"
    assert months["2026-02"]["deferred"] == "1006.03"  # 1200 − 101.92 − 92.05
    assert months["2026-12"]["deferred"] == "0.00"
    assert months["2027-01"]["recognised"] == "0.00"


def test_usage_is_recognised_in_the_month_it_was_used_though_billed_after_it(api_client):
    acme = customer("acme")
    subscribe(acme, pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 10), count=500)  # 5.00
    cycles_close(at=utc(2026, 4, 1))
    invoice = Invoice.objects.get()
    assert invoice.issued_at.date() == date(2026, 4, 1)
    usage = RevenueSchedule.objects.get(invoice_line__description="API calls")
    assert entries_of(usage) == [("2026-03", "5")]
    fee = RevenueSchedule.objects.get(invoice_line__kind=LineKind.BASE_FEE)
    assert entries_of(fee) == [("2026-03", "29")]  # in arrears: March's fee, billed in April

    body = api_client.get("/api/v1/revenue?from=2026-03&to=2026-04").json()
    march, april = body["currencies"][0]["months"]
    assert (march["billed"], march["recognised"], march["unbilled"]) == ("0.00", "34.00", "34.00")
    assert (april["billed"], april["recognised"], april["unbilled"]) == ("34.00", "0.00", "0.00")


def test_schedules_are_written_once_and_the_backfill_catches_up_older_invoices():
    invoice = annual_customer()
    assert str(revenue_sync()) == (
        "0 invoice line(s), 0 credit note line(s) and 0 void(s) given a revenue schedule."
    )
    before = list(RevenueEntry.objects.values_list("month", "amount"))
    RevenueSchedule.objects.all().delete()  # as if finalized before finance existed
    call_command("revenue_backfill", stdout=(out := io.StringIO()))
    assert out.getvalue().startswith("1 invoice line(s)")
    call_command("revenue_backfill", stdout=(again := io.StringIO()))
    assert again.getvalue().startswith("0 invoice line(s)")
    assert list(RevenueEntry.objects.values_list("month", "amount")) == before
    assert RevenueSchedule.objects.get().invoice == invoice


def _credit_note(invoice: Invoice, *, amount: str, at, line=None) -> CreditNote:
    """A credit note issued by the invoices app's own service: on one line, or an amount on
    the whole invoice (no tax here, so gross = net)."""
    if line is not None:
        credits = {"lines": [LineCredit(line_id=line.pk, amount=Decimal(amount))]}
    else:
        credits = {"amount": Decimal(amount)}
    return credit_note_issue(
        invoice=invoice, reason="Service outage", outcome="next_invoice", at=at, **credits
    )


def test_a_credit_note_reverses_what_was_recognised_in_its_month_and_reduces_the_rest():
    invoice = annual_customer()
    line = invoice.lines.get()
    _credit_note(invoice, amount="600.00", at=utc(2026, 4, 10), line=line)
    reversal = RevenueSchedule.objects.get(source=RevenueSource.CREDIT_NOTE_LINE)
    assert reversal.amount == Decimal("-600.00")
    # Half the line. By April's end the line had recognised 394.52 (Jan–Apr); half of it,
    # round(600 × 394.52 / 1200) = 197.26, is reversed in April (closed months are not restated);
    # May–Dec each lose half of theirs, cumulatively rounded.
    months = dict(entries_of(reversal))
    assert list(months) == [f"2026-{m:02d}" for m in range(4, 13)]
    assert months["2026-04"] == "-197.26"
    assert sum(Decimal(v) for v in months.values()) == Decimal("-600.00")
    net = net_by_month()
    assert net[date(2026, 1, 1)] == Decimal("101.92")  # a closed month is not restated
    assert sum(net.values()) == Decimal("600.00")
    assert revenue_sync().credit_note_lines == 0  # written once, when it was issued


def test_a_credit_on_the_whole_invoice_and_a_void_reverse_the_rest():
    invoice = annual_customer()
    _credit_note(invoice, amount="100.00", at=utc(2026, 2, 1))
    invoice_void(invoice=invoice, at=utc(2026, 7, 15))
    report = revenue_sync()  # the void: no signal announces it
    assert (report.credit_note_lines, report.voids) == (0, 1)
    void = RevenueSchedule.objects.get(source=RevenueSource.INVOICE_VOID)
    assert void.amount == Decimal("-1100.00")
    net = net_by_month()
    assert sum(net.values()) == Decimal("0.00")  # nothing of it stays in revenue
    # What was earned before the void stays where it was; July takes the reversal of all of it,
    # and every later month nets to nothing.
    assert net[date(2026, 1, 1)] == Decimal("101.92")
    assert all(net[date(2026, m, 1)] == 0 for m in range(8, 13))


def test_currencies_are_reported_apart_never_added(api_client):
    annual_customer("acme", "USD")
    annual_customer("kaiju", "JPY")
    body = api_client.get("/api/v1/revenue?from=2026-01&to=2026-01").json()
    assert [(c["currency"], c["months"][0]["billed"]) for c in body["currencies"]] == [
        ("JPY", "120000"),
        ("USD", "1200.00"),
    ]
    jpy = api_client.get("/api/v1/revenue?from=2026-01&to=2026-12&currency=JPY").json()
    (only,) = jpy["currencies"]
    assert only["recognised"] == "120000"


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=2026-13&to=2026-12", "from"),
        ("from=2026-1&to=2026-12", "from"),
        ("from=2026-06&to=2026-01", "from"),
        ("from=2020-01&to=2026-01", "to"),  # 73 months: more than 60
        ("from=1999-12&to=2000-01", "from"),
        ("to=garbage", "to"),
    ],
)
def test_the_revenue_endpoint_refuses_bad_ranges_with_400(api_client, query, field):
    response = api_client.get(f"/api/v1/revenue?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_the_default_range_is_the_last_twelve_months(api_client):
    body = api_client.get("/api/v1/revenue").json()
    assert body["currencies"] == []
    first, last = body["from"], body["to"]
    assert int(last[:4]) * 12 + int(last[5:]) - (int(first[:4]) * 12 + int(first[5:])) == 11


def test_a_paid_wallet_top_up_is_not_revenue_and_a_setup_fee_is_revenue_when_billed():
    top_up = FinalizedInvoiceFactory(kind="credit_purchase", issued_at=utc(2026, 5, 3))
    FeeLineFactory(invoice=top_up, kind="base_fee", amount=Decimal("500.00"))
    onboarding = FinalizedInvoiceFactory(kind="one_off", issued_at=utc(2026, 5, 3))
    FeeLineFactory(invoice=onboarding, kind="setup_fee", amount=Decimal("99.00"))
    assert revenue_sync().lines == 1
    (schedule,) = RevenueSchedule.objects.all()
    assert schedule.invoice == onboarding
    assert (schedule.method, entries_of(schedule)) == ("point_in_time", [("2026-05", "99")])


def _schedules_as_rows() -> dict[int, tuple]:
    """Every line's schedule and its months, field by field (ids and creation times aside)."""
    rows = {}
    for schedule in RevenueSchedule.objects.prefetch_related("entries"):
        fields = {
            field.attname: getattr(schedule, field.attname)
            for field in RevenueSchedule._meta.concrete_fields
            if field.attname not in ("id", "created_at")
        }
        months = [
            (entry.month, entry.amount, entry.currency, entry.billed_month)
            for entry in schedule.entries.all()
        ]
        rows[schedule.invoice_line_id] = (fields, months)
    return rows


def test_the_close_writes_the_schedules_the_catch_up_writes_from_the_saved_lines():
    """The close writes its schedules from the lines it just saved, as tuples; the catch-up
    (revenue_sync) reads the lines back as model instances: the same rows, field by field."""
    pro = pro_plan()
    for external_id, calls in (("acme", 500), ("globex", 1234), ("initech", 0)):
        subscribe(customer(external_id), pro, started_at=utc(2026, 3, 15))
        if calls:
            send(external_id, "api_call", utc(2026, 4, 2), count=calls)
    cycles_close(at=utc(2026, 4, 15))
    assert Invoice.objects.filter(status=InvoiceStatus.FINALIZED).count() == 3
    written = _schedules_as_rows()
    # Mar 15 – Apr 15: the fee and the usage spread over March and April by day.
    assert {len(months) for _, months in written.values()} == {0, 2}  # 0: initech's 0.00 line

    RevenueSchedule.objects.all().delete()
    revenue_sync()

    assert _schedules_as_rows() == written
