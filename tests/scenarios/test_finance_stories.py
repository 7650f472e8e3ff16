"""Finance stories (docs/operations.md, "Taxes", "Coupons", "Void and reissue"), told through
the API and close_cycles as an operator would."""

import pytest

from tests.scenarios.conftest import utc

pytestmark = pytest.mark.django_db

SEATS = {"code": "seats", "name": "Seats", "event_name": "seat_used", "aggregation": "count"}


def _plan(operator, *, base="100.00", timing="in_arrears", unit="1.00"):
    operator.meter(**SEATS)
    operator.plan(
        code="team",
        name="Team",
        base_amount=base,
        base_timing=timing,
        charges=[{"meter": "seats", "model": "per_unit", "unit_amount": unit}],
    )


def test_two_tax_rates_on_a_discounted_invoice_to_the_cent(operator):
    """$100 fee + 37 units × $1.00 = $137.00; 15 % off = $20.55 → $116.45 taxable;
    state 6.25 % = 7.278125 → $7.28, city 4.5 % = 5.24025 → $5.24; total $128.97."""
    _plan(operator)
    state = operator.post(
        "/api/v1/tax-rates", {"name": "NY State", "percentage": "6.25", "jurisdiction": "US-NY"}
    )
    city = operator.post("/api/v1/tax-rates", {"name": "NYC", "percentage": "4.5"})
    operator.customer("acme", tax_rates=[state["id"], city["id"]])
    operator.post(
        "/api/v1/coupons",
        {
            "code": "launch15",
            "name": "Launch",
            "kind": "percentage",
            "percentage": "15",
            "duration": "forever",
        },
    )
    operator.post("/api/v1/customers/acme/coupons", {"coupon": "launch15"})
    operator.subscribe("acme", "team", utc(2026, 3, 1))
    operator.events("acme", "seat_used", utc(2026, 3, 10), count=37)

    operator.close_cycles(at=utc(2026, 4, 1))

    (invoice,) = operator.invoices("acme")
    assert (invoice["subtotal"], invoice["discount"], invoice["tax"], invoice["total"]) == (
        "137.00",
        "20.55",
        "12.52",
        "128.97",
    )
    assert [(tax["name"], tax["rate"], tax["amount"]) for tax in invoice["taxes"]] == [
        ("NY State", "6.25", "7.28"),
        ("NYC", "4.5", "5.24"),
    ]
    # Spread pro rata: 20.55 × 37/137 = 5.55 on the usage, 20.55 × 100/137 = 15.00 on the fee.
    discounts = sorted(line["discount"] for line in invoice["lines"])
    assert discounts == ["15.00", "5.55"]
    assert invoice["amount_due"] == "128.97"


def test_the_customers_rates_win_over_the_plans_and_an_exempt_customer_pays_none(operator):
    _plan(operator)
    vat = operator.post("/api/v1/tax-rates", {"name": "VAT", "percentage": "20"})
    reduced = operator.post("/api/v1/tax-rates", {"name": "Reduced", "percentage": "5"})
    from catalog.models import Plan

    Plan.objects.get(code="team").tax_rates.set([vat["id"]])
    operator.customer("plain")
    operator.customer("own", tax_rates=[reduced["id"]])
    operator.customer("charity", tax_exempt=True, tax_exempt_reason="Registered charity no. 1234")
    for name in ("plain", "own", "charity"):
        operator.subscribe(name, "team", utc(2026, 3, 1))

    operator.close_cycles(at=utc(2026, 4, 1))

    taxes = {name: operator.invoices(name)[0]["taxes"] for name in ("plain", "own", "charity")}
    assert [tax["amount"] for tax in taxes["plain"]] == ["20.00"]
    assert [tax["amount"] for tax in taxes["own"]] == ["5.00"]
    assert taxes["charity"] == []
    assert operator.invoices("charity")[0]["tax_exempt_reason"] == "Registered charity no. 1234"


@pytest.mark.parametrize(
    ("coupon", "discounts"),
    [
        (
            {"kind": "percentage", "percentage": "10", "duration": "once"},
            ["10.00", "0.00", "0.00", "0.00"],
        ),
        (
            {
                "kind": "percentage",
                "percentage": "10",
                "duration": "repeating",
                "duration_periods": 2,
            },
            ["10.00", "10.00", "0.00", "0.00"],
        ),
        (
            {"kind": "percentage", "percentage": "10", "duration": "forever"},
            ["10.00", "10.00", "10.00", "10.00"],
        ),
        # A fixed $250 once carries its rest forward: 100 + 100 + 50.
        (
            {"kind": "fixed", "amount": "250.00", "currency": "USD", "duration": "once"},
            ["100.00", "100.00", "50.00", "0.00"],
        ),
        (
            {
                "kind": "fixed",
                "amount": "30.00",
                "currency": "USD",
                "duration": "repeating",
                "duration_periods": 3,
            },
            ["30.00", "30.00", "30.00", "0.00"],
        ),
    ],
)
def test_each_coupon_duration_across_four_periods(operator, coupon, discounts):
    _plan(operator)
    operator.customer("acme")
    operator.post("/api/v1/coupons", {"code": "deal", "name": "Deal", **coupon})
    operator.post("/api/v1/customers/acme/coupons", {"coupon": "deal"})
    operator.subscribe("acme", "team", utc(2026, 1, 1))

    for month in (2, 3, 4, 5):
        operator.close_cycles(at=utc(2026, month, 1))

    invoices = operator.invoices("acme")
    assert [invoice["discount"] for invoice in invoices] == discounts
    assert [invoice["total"] for invoice in invoices] == [
        f"{100 - float(amount):.2f}" for amount in discounts
    ]


def test_void_and_reissue_after_a_late_event_keeps_both_series_gapless(operator, api_client):
    """A late event for March: void March (paid: credited first), the next close reissues it
    with the late usage and the fee; invoice and credit note numbers stay gapless."""
    operator.meter(**SEATS)
    operator.plan(
        code="team",
        name="Team",
        base_amount="50.00",
        base_timing="in_advance",
        charges=[{"meter": "seats", "model": "per_unit", "unit_amount": "1.00"}],
    )
    operator.customer("acme")
    operator.subscribe("acme", "team", utc(2026, 3, 1))
    operator.events("acme", "seat_used", utc(2026, 3, 10), count=5)
    operator.close_cycles(at=utc(2026, 4, 1))
    opening, march = operator.invoices("acme")
    assert (opening["number"], march["number"]) == ("INV-2026-000001", "INV-2026-000002")
    assert march["total"] == "55.00"  # 5 seats + April's fee in advance
    operator.post(
        f"/api/v1/invoices/{march['id']}/payments", {"amount": "55.00", "method": "bank_transfer"}
    )
    # Late: 3 more seats used in March, received in April.
    operator.events("acme", "seat_used", utc(2026, 3, 20), count=3, received_at=utc(2026, 4, 2))
    # A paid invoice cannot be voided before it is credited in full.
    refused = api_client.post(f"/api/v1/invoices/{march['id']}/void")
    assert refused.status_code == 409
    note = operator.post(
        f"/api/v1/invoices/{march['id']}/credit-notes",
        {"amount": "55.00", "reason": "Late usage: reissued", "outcome": "next_invoice"},
    )
    assert (note["number"], note["outcome_amount"]) == ("CN-2026-000001", "55.00")
    voided = operator.post(f"/api/v1/invoices/{march['id']}/void", {}, status=200)
    assert voided["status"] == "void"

    operator.close_cycles(at=utc(2026, 4, 2))

    invoices = operator.invoices("acme")
    reissued = invoices[-1]
    assert reissued["number"] == "INV-2026-000003"
    assert (reissued["period_start"], reissued["period_end"]) == (
        march["period_start"],
        march["period_end"],
    )
    assert sorted(line["amount"] for line in reissued["lines"]) == ["50.00", "8.00"]
    assert reissued["total"] == "58.00"
    # The credit note's 55.00 is taken off the reissued invoice: 3.00 is left to pay.
    assert (reissued["amount_credited"], reissued["amount_remaining"]) == ("55.00", "3.00")
    # Nothing is billed twice at the next close; April closes as usual.
    operator.close_cycles(at=utc(2026, 5, 1))
    numbers = [invoice["number"] for invoice in operator.invoices("acme")]
    # The voided invoice keeps its number: no gap, no reuse.
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003", "INV-2026-000004"]
    assert operator.invoices("acme")[1]["status"] == "void"
    second = operator.post(
        f"/api/v1/invoices/{reissued['id']}/credit-notes",
        {"amount": "1.00", "reason": "Goodwill", "outcome": "next_invoice"},
    )
    assert second["number"] == "CN-2026-000002"


def test_an_operator_rebills_a_late_event_from_the_event_debugger(admin_client, operator):
    # admin_client first: its login happens before the story's clock starts.
    from metering.models import Event

    _plan(operator, base="0", unit="2.00")
    operator.customer("acme")
    operator.subscribe("acme", "team", utc(2026, 3, 1))
    operator.events("acme", "seat_used", utc(2026, 3, 10), count=2)
    operator.close_cycles(at=utc(2026, 4, 1))
    operator.events("acme", "seat_used", utc(2026, 3, 30), count=1, received_at=utc(2026, 4, 3))
    operator.close_cycles(at=utc(2026, 4, 3))  # flags the late event
    late = Event.objects.get(is_late=True)

    page = admin_client.get(f"/admin/metering/event/{late.pk}/change/").content.decode()
    link = page.split('class="metering-rebill"')[0].rsplit('href="', 1)[1].split('"')[0]
    link = link.replace("&amp;", "&")
    rebill_page = admin_client.get(link, follow=True)
    assert "Void and re-bill this period" in rebill_page.content.decode()
    target = rebill_page.redirect_chain[-1][0]
    admin_client.post(target)

    march, reissued = operator.invoices("acme")
    assert (march["status"], reissued["status"]) == ("void", "finalized")
    assert (reissued["number"], reissued["total"]) == ("INV-2026-000002", "6.00")
    assert reissued["period_start"] == march["period_start"]


def test_an_operator_issues_a_credit_note_and_gives_a_coupon_in_the_admin(admin_client, operator):
    from catalog.models import Coupon
    from customers.models import Customer
    from invoices.models import Invoice

    _plan(operator)
    operator.customer("acme")
    operator.subscribe("acme", "team", utc(2026, 3, 1))
    operator.close_cycles(at=utc(2026, 4, 1))
    invoice = Invoice.objects.get()
    line = invoice.lines.get(kind="base_fee")

    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "Issue a credit note" in page
    form = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/credit-note/").content.decode()
    assert "left to credit: <strong>$100.00" in form
    response = admin_client.post(
        f"/admin/invoices/invoice/{invoice.pk}/credit-note/",
        {"reason": "Outage", "outcome": "next_invoice", f"line_{line.pk}": "12.50"},
    )
    assert response.status_code == 302
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "CN-2026-000001" in page and "Outage" in page
    too_much = admin_client.post(
        f"/admin/invoices/invoice/{invoice.pk}/credit-note/",
        {"reason": "Again", "outcome": "wallet", "amount": "87.51"},
    )
    assert "only 87.50 USD" in too_much.content.decode()

    coupon = Coupon.objects.create(
        code="half", name="Half", kind="percentage", percentage=50, duration="once"
    )
    customer = Customer.objects.get(external_id="acme")
    admin_client.post(
        f"/admin/customers/customer/{customer.pk}/apply-coupon/", {"coupon": coupon.pk}
    )
    page = admin_client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    coupons = page[page.index('id="panel-coupons"') :]
    assert "<strong>half</strong></td><td>Half</td>" in coupons
    operator.close_cycles(at=utc(2026, 5, 1))
    march, april = operator.invoices("acme")
    # March was unpaid: the note lowered what it owes, nothing was left for the next invoice.
    assert (march["amount_credited"], march["amount_remaining"]) == ("12.50", "87.50")
    assert (april["discount"], april["total"], april["amount_remaining"]) == (
        "50.00",
        "50.00",
        "50.00",
    )
    assert admin_client.get("/admin/catalog/coupon/").status_code == 200
    assert admin_client.get("/admin/catalog/taxrate/add/").status_code == 200
    assert admin_client.get("/admin/invoices/creditnote/").status_code == 200


def test_a_coupon_limited_to_plans_and_an_expired_one(operator):
    _plan(operator)
    operator.plan(code="solo", name="Solo", base_amount="20.00", base_timing="in_arrears")
    operator.post(
        "/api/v1/coupons",
        {
            "code": "team-only",
            "kind": "percentage",
            "percentage": "50",
            "duration": "forever",
            "plans": ["team"],
        },
    )
    operator.post(
        "/api/v1/coupons",
        {
            "code": "old",
            "kind": "percentage",
            "percentage": "50",
            "duration": "forever",
            "expires_at": "2026-02-01T00:00:00Z",
        },
    )
    operator.customer("teamer")
    operator.customer("soloist")
    operator.clock.set(utc(2026, 2, 15))
    for name in ("teamer", "soloist"):
        operator.post(f"/api/v1/customers/{name}/coupons", {"coupon": "team-only"})
        expired = operator.post(f"/api/v1/customers/{name}/coupons", {"coupon": "old"}, status=409)
        assert "expired" in str(expired)
    operator.subscribe("teamer", "team", utc(2026, 3, 1))
    operator.subscribe("soloist", "solo", utc(2026, 3, 1))

    operator.close_cycles(at=utc(2026, 4, 1))

    assert operator.invoices("teamer")[0]["discount"] == "50.00"
    assert operator.invoices("soloist")[0]["discount"] == "0.00"


def test_a_coupon_taken_off_a_customer_stops_at_the_next_invoice(operator):
    _plan(operator)
    operator.customer("acme")
    operator.post(
        "/api/v1/coupons",
        {"code": "deal", "kind": "percentage", "percentage": "20", "duration": "forever"},
    )
    operator.post("/api/v1/customers/acme/coupons", {"coupon": "deal"})
    operator.subscribe("acme", "team", utc(2026, 1, 1))
    operator.close_cycles(at=utc(2026, 2, 1))

    api = operator.client
    listed = api.get("/api/v1/customers/acme/coupons").json()
    assert [(row["coupon"], row["removed_at"]) for row in listed] == [("deal", None)]
    removed = api.delete("/api/v1/customers/acme/coupons/deal")
    again = api.delete("/api/v1/customers/acme/coupons/deal")
    assert removed.status_code == again.status_code == 200
    assert removed.json()["removed_at"] is not None
    assert again.json()["removed_at"] == removed.json()["removed_at"]
    assert api.delete("/api/v1/customers/acme/coupons/nope").status_code == 404
    assert api.delete("/api/v1/customers/nobody/coupons/deal").status_code == 404
    # Taken off: giving it again is refused, as the docs say.
    operator.post("/api/v1/customers/acme/coupons", {"coupon": "deal"}, status=409)

    operator.close_cycles(at=utc(2026, 3, 1))

    invoices = operator.invoices("acme")
    assert [(invoice["discount"], invoice["total"]) for invoice in invoices] == [
        ("20.00", "80.00"),
        ("0.00", "100.00"),
    ]
