"""The invoices API: list and detail as docs/api.md shows them, drill-down, actions, upcoming."""

import pytest

from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def pro_invoice():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "credits_used", utc(2026, 3, 2), credits=50)
    send("acme", "api_call", utc(2026, 3, 3), count=1000)
    send("acme", "storage", utc(2026, 3, 4), gb=5)
    cycles_close(at=utc(2026, 4, 1))
    return Invoice.objects.get()


def test_invoice_detail_has_the_documented_shape(api_client, pro_invoice):
    response = api_client.get(f"/api/v1/invoices/{pro_invoice.pk}")

    assert response.status_code == 200
    body = response.json()
    assert {
        key: body[key]
        for key in (
            "id",
            "number",
            "customer",
            "status",
            "kind",
            "currency",
            "period_start",
            "period_end",
            "subtotal",
            "discount",
            "tax",
            "credits_applied",
            "total",
            "amount_due",
            "issued_at",
            "due_date",
        )
    } == {
        "id": pro_invoice.pk,
        "number": "INV-2026-000001",
        "customer": "acme",
        "status": "finalized",
        "kind": "subscription",
        "currency": "USD",
        "period_start": "2026-03-01T00:00:00Z",
        "period_end": "2026-04-01T00:00:00Z",
        "subtotal": "60.50",
        "discount": "0.00",
        "tax": "0.00",
        "credits_applied": "0.00",
        "total": "60.50",
        "amount_due": "60.50",
        "issued_at": "2026-04-01T00:00:00Z",
        "due_date": "2026-04-01",
    }
    assert [
        (line["description"], line["meter"], line["quantity"], line["unit_amount"], line["amount"])
        for line in body["lines"]
    ] == [
        ("Credits", "credits", "50", "0.25", "12.50"),
        ("API calls", "api_calls", "1000", "0.01", "10.00"),
        ("Storage", "storage_gb", "5", "1.80", "9.00"),
        ("Pro fee, Mar 1 – Mar 31, 2026", None, "1", "29.00", "29.00"),
    ]
    credits = body["lines"][0]
    assert credits["breakdown"]["breakdown"][0]["label"] == "Per unit @ 0.25"
    assert credits["usage_start"] == "2026-03-01T00:00:00Z"
    assert credits["events_url"] == (
        f"http://testserver/api/v1/invoices/{pro_invoice.pk}/lines/{credits['id']}/events"
    )
    assert body["lines"][3]["events_url"] is None
    assert body["pdf_url"].startswith("http://testserver/")
    assert body["hosted_url"].startswith("http://testserver/")


def test_invoice_list_filters_by_customer_and_status_newest_first(api_client, pro_invoice):
    subscribe(
        customer("bob", invoice_grace_period_hours=24),
        pro_plan_v("bob"),
        started_at=utc(2026, 3, 1),
    )
    cycles_close(at=utc(2026, 5, 1))

    acme = api_client.get("/api/v1/invoices?customer=acme").json()
    assert [invoice["number"] for invoice in acme] == ["INV-2026-000002", "INV-2026-000001"]
    drafts = api_client.get("/api/v1/invoices?status=draft").json()
    assert [(i["customer"], i["number"], i["status"]) for i in drafts] == [("bob", None, "draft")]
    page = api_client.get("/api/v1/invoices?limit=1").json()
    assert page["count"] == 4 and len(page["results"]) == 1
    assert api_client.get("/api/v1/invoices?customer=nobody").json() == []


def pro_plan_v(code):
    from tests.invoices.helpers import plan

    return plan(
        f"pro-{code}",
        base_amount="29.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
    )


def test_list_refuses_an_unknown_status_and_an_anonymous_caller(
    api_client, anonymous_client, pro_invoice
):
    response = api_client.get("/api/v1/invoices?status=open")
    assert response.status_code == 400
    assert "Unknown status 'open'" in response.json()["status"][0]
    assert anonymous_client.get("/api/v1/invoices").status_code == 401


@pytest.mark.parametrize("invoice_id", ["999999", "abc", "1" * 30])
def test_unknown_invoice_is_404(api_client, invoice_id):
    response = api_client.get(f"/api/v1/invoices/{invoice_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Unknown invoice {invoice_id}."}


def test_drill_down_lists_the_exact_events_of_a_usage_line(api_client, pro_invoice):
    send("acme", "api_call", utc(2026, 4, 1), count=3)  # next period: not behind the line
    line = pro_invoice.lines.get(meter__code="api_calls")

    response = api_client.get(f"/api/v1/invoices/{pro_invoice.pk}/lines/{line.pk}/events")

    assert response.status_code == 200
    body = response.json()
    assert (body["meter"], body["customer"], body["quantity"], body["line_quantity"]) == (
        "api_calls",
        "acme",
        "1000",
        "1000",
    )
    assert body["event_count"] == 1000 and len(body["events"]) == 1000
    assert {event["event_name"] for event in body["events"]} == {"api_call"}
    assert all(event["timestamp"] < "2026-04-01" for event in body["events"])

    page = api_client.get(
        f"/api/v1/invoices/{pro_invoice.pk}/lines/{line.pk}/events?limit=10&offset=990"
    ).json()
    assert len(page["events"]) == 10 and page["next"] is None


def test_drill_down_of_a_fee_line_or_another_invoices_line_is_404(api_client, pro_invoice):
    fee = pro_invoice.lines.get(kind="base_fee")
    assert (
        api_client.get(f"/api/v1/invoices/{pro_invoice.pk}/lines/{fee.pk}/events").status_code
        == 404
    )
    usage = pro_invoice.lines.filter(kind="usage").first()
    assert api_client.get(f"/api/v1/invoices/999/lines/{usage.pk}/events").status_code == 404


def test_finalize_then_void_then_refusals(api_client):
    subscribe(
        customer("acme", invoice_grace_period_hours=24), pro_plan(), started_at=utc(2026, 3, 1)
    )
    cycles_close(at=utc(2026, 4, 1))
    draft = Invoice.objects.get()

    response = api_client.post(f"/api/v1/invoices/{draft.pk}/finalize")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["number"]) == (
        "finalized",
        "INV-2026-000001",
    )

    again = api_client.post(f"/api/v1/invoices/{draft.pk}/finalize")
    assert again.status_code == 409
    assert "only a draft can be finalized" in again.json()["detail"]

    voided = api_client.post(f"/api/v1/invoices/{draft.pk}/void")
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    assert api_client.post(f"/api/v1/invoices/{draft.pk}/void").status_code == 409
    refused = api_client.post(f"/api/v1/invoices/{draft.pk}/mark-uncollectible")
    assert refused.status_code == 409
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("void", "INV-2026-000001")
    assert api_client.post("/api/v1/invoices/424242/finalize").status_code == 404


def test_mark_uncollectible(api_client, pro_invoice):
    response = api_client.post(f"/api/v1/invoices/{pro_invoice.pk}/mark-uncollectible")
    assert response.status_code == 200 and response.json()["status"] == "uncollectible"


def test_upcoming_invoice_has_the_invoice_shape_unsaved(api_client):
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1), at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 3), count=100)

    response = api_client.get("/api/v1/customers/acme/upcoming-invoice")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["number"], body["pdf_url"], body["hosted_url"]) == (
        None,
        None,
        None,
        None,
    )
    assert body["customer"] == "acme" and body["currency"] == "USD"
    assert [line["id"] for line in body["lines"]] == [None, None, None, None]
    assert [line["events_url"] for line in body["lines"]] == [None] * 4
    assert body["lines"][1]["amount"] == "1.00"
    assert not Invoice.objects.exists()


def test_upcoming_invoice_refusals(api_client):
    customer("idle")
    unknown = api_client.get("/api/v1/customers/nobody/upcoming-invoice")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Unknown customer 'nobody'."}
    idle = api_client.get("/api/v1/customers/idle/upcoming-invoice")
    assert idle.status_code == 404
    assert "has no active subscription" in idle.json()["detail"]


def test_invoice_list_costs_the_same_queries_for_one_month_or_six(api_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 1, 1))
    api_client.get("/api/v1/invoices")  # the key's first use records last_used_at: not measured

    def queries_for_list() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            listed = api_client.get("/api/v1/invoices?customer=acme").json()
        return len(listed), len(captured.captured_queries)

    cycles_close(at=utc(2026, 2, 1))
    one_invoice, queries_for_one = queries_for_list()
    cycles_close(at=utc(2026, 7, 1))
    six_invoices, queries_for_six = queries_for_list()

    assert (one_invoice, six_invoices) == (1, 6)
    assert queries_for_six == queries_for_one
