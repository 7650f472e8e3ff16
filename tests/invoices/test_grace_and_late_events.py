"""Grace period: a closed invoice stays a draft, refreshed with late usage, then finalized;
events arriving after finalization are kept, flagged late and never billed twice."""

from decimal import Decimal

import pytest

from invoices.models import Invoice
from invoices.services import cycles_close, events_flag_late
from metering.models import Event
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


def api_calls_line(invoice):
    return invoice.lines.get(meter__code="api_calls")


def test_grace_keeps_a_refreshed_draft_then_finalizes_and_flags_later_events():
    subscribe(
        customer("acme", invoice_grace_period_hours=24), pro_plan(), started_at=utc(2026, 3, 1)
    )
    send("acme", "api_call", utc(2026, 3, 10), count=100)

    cycles_close(at=utc(2026, 4, 1, 0, 5))

    draft = Invoice.objects.get()
    assert (draft.status, draft.number, draft.grace_until) == ("draft", None, utc(2026, 4, 2))
    assert draft.total == Decimal("30.00")

    # Nothing new arrived: the draft is not read again.
    cycles_close(at=utc(2026, 4, 1, 0, 10))
    draft.refresh_from_db()
    assert draft.usage_read_at == utc(2026, 4, 1, 0, 5)

    # Usage of March reported the next morning, within the grace period.
    send("acme", "api_call", utc(2026, 3, 31, 23), count=200, at=utc(2026, 4, 1, 10))
    report = cycles_close(at=utc(2026, 4, 1, 12))

    draft.refresh_from_db()
    assert report.refreshed == 1
    assert draft.usage_read_at == utc(2026, 4, 1, 12)
    assert draft.status == "draft"
    assert api_calls_line(draft).quantity == 300
    assert draft.total == Decimal("32.00")

    cycles_close(at=utc(2026, 4, 2))

    final = Invoice.objects.get()
    assert (final.status, final.number) == ("finalized", "INV-2026-000001")
    assert final.issued_at == utc(2026, 4, 2)
    assert final.total == Decimal("32.00")

    # March usage arriving after the invoice was issued: kept, flagged, not billed again.
    send("acme", "api_call", utc(2026, 3, 30), count=5, at=utc(2026, 4, 3))
    report = cycles_close(at=utc(2026, 4, 3, 0, 10))

    assert report.late_events == 5
    assert Event.objects.filter(is_late=True).count() == 5
    assert Event.objects.filter(is_late=False).count() == 300
    final.refresh_from_db()
    assert final.total == Decimal("32.00")
    assert api_calls_line(final).quantity == 300
    assert Invoice.objects.count() == 1


def test_without_grace_the_invoice_is_final_at_once():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))

    cycles_close(at=utc(2026, 4, 1))

    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number, invoice.grace_until) == (
        "finalized",
        "INV-2026-000001",
        utc(2026, 4, 1),
    )


def test_events_outside_issued_periods_or_received_before_issue_are_not_late():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 10), count=2)
    cycles_close(at=utc(2026, 4, 1))
    send("acme", "api_call", utc(2026, 4, 2), count=3, at=utc(2026, 4, 2))  # open period
    send("bob", "api_call", utc(2026, 3, 5), count=4, at=utc(2026, 4, 2))  # another customer

    assert events_flag_late(at=utc(2026, 4, 2)) == 0
    assert not Event.objects.filter(is_late=True).exists()
