"""verify_invoices: issued invoices recomputed from their raw events and the ledger."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from invoices.models import Invoice, InvoiceLine
from invoices.services import cycles_close, invoices_verify
from tests.invoices.helpers import customer, plan, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def april_invoice():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 4, 1))
    send("acme", "credits_used", utc(2026, 4, 3), credits=50)
    send("acme", "api_call", utc(2026, 4, 4), count=12)
    cycles_close(at=utc(2026, 5, 1))
    return Invoice.objects.get(kind="subscription")


def test_an_invoice_that_matches_its_events_is_verified(april_invoice, api_client):
    report = invoices_verify(at=utc(2026, 5, 2))

    assert (report.checked, report.verified, report.drifted) == (1, 1, [])
    body = api_client.get(f"/api/v1/invoices/{april_invoice.pk}").json()
    assert body["verified_at"] == "2026-05-02T00:00:00Z"


def test_a_line_that_no_longer_matches_is_reported_never_absorbed(april_invoice, admin_client):
    credits = april_invoice.lines.get(meter__code="credits")
    InvoiceLine.objects.filter(pk=credits.pk).update(amount=Decimal("99.00"))  # a corrupted row

    report = invoices_verify(at=utc(2026, 5, 2))

    ((invoice, drift),) = report.drifted
    assert drift == [
        {
            "line": credits.pk,
            "description": "Credits",
            "expected_amount": "12.5",
            "stored_amount": "99",
            "expected_quantity": "50",
            "stored_quantity": "50",
            "window_start": "2026-04-01T00:00:00+00:00",
            "window_end": "2026-05-01T00:00:00+00:00",
            "late_events": 0,
        }
    ]
    april_invoice.refresh_from_db()
    assert april_invoice.verified_at is None
    page = admin_client.get(f"/admin/invoices/invoice/{april_invoice.pk}/change/").content.decode()
    assert "Drift on “Credits”: expected 12.5 for 50, stored 99 for 50" in page


def test_late_events_show_as_drift_with_their_count(april_invoice, capsys):
    send("acme", "credits_used", utc(2026, 4, 20), at=utc(2026, 5, 3), credits=4)

    with pytest.raises(SystemExit) as exit_status:
        call_command("verify_invoices", "--since", "2026-05-01")

    assert exit_status.value.code == 1
    err = capsys.readouterr().err
    assert "expected 13.5 for 54, stored 12.5 for 50" in err
    assert "1 arrived late" in err


def test_the_command_prints_a_summary_and_refuses_a_bad_date(april_invoice, capsys):
    call_command("verify_invoices")
    assert "Verified 1 invoice(s)" in capsys.readouterr().out
    with pytest.raises(Exception, match="not a date"):
        call_command("verify_invoices", "--since", "May 1")


def test_on_demand_invoices_verify_line_by_line():
    tokens = plan(
        "tokens",
        charges=[
            {"meter": "tokens", "model": "per_unit", "unit_amount": "0.004", "cadence": "on_demand"}
        ],
    )
    subscribe(customer("acme"), tokens, started_at=utc(2026, 4, 1))
    for hour in range(5):
        send("acme", "llm_tokens", utc(2026, 4, 1, hour, 10), tokens=1)
        cycles_close(at=utc(2026, 4, 1, hour + 1, 1))

    report = invoices_verify(at=utc(2026, 4, 2))

    assert report.checked == Invoice.objects.count() >= 2
    assert report.drifted == []
