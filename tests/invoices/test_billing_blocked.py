"""Issue 9, item 2: one bad event never blocks billing for good, nor slows the others.

A close that fails is recorded on the subscription (since when, why), listed in the admin,
and kept out of batched closes; an operator excludes the bad event (who, when, why kept on
it), the next close bills without it and clears the block.
"""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Charge
from customers.models import Subscription
from invoices.models import Invoice
from invoices.services import cycles_close
from metering.models import Event
from tests.invoices.helpers import customer, plan, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


def _huge_and_fine():
    """`huge` sends the largest number ingestion accepts, on a price no amount column holds."""
    costly = plan(
        "costly", charges=[{"meter": "tokens", "model": "per_unit", "unit_amount": "1000000"}]
    )
    huge = subscribe(customer("huge"), costly, started_at=utc(2026, 3, 1))
    fine = subscribe(customer("fine"), pro_plan(), started_at=utc(2026, 3, 1))
    send("huge", "llm_tokens", utc(2026, 3, 2), tokens=10**15)
    send("huge", "llm_tokens", utc(2026, 3, 3), tokens=7)
    return huge, fine


@pytest.fixture
def blocked():
    """A close that fails for `huge`: its charge broken in the database (on any database)."""
    huge, fine = _huge_and_fine()
    Charge.objects.filter(plan=huge.plan).update(unit_amount=None)
    report = cycles_close(at=utc(2026, 4, 1))
    return huge, fine, report


def test_a_failing_close_is_recorded_as_billing_blocked_and_the_others_are_billed(blocked):
    huge, fine, report = blocked

    assert len(report.errors) == 1 and f"#{huge.pk}" in report.errors[0]
    huge.refresh_from_db()
    assert huge.billing_blocked_at == utc(2026, 4, 1)
    assert "needs a unit amount" in huge.billing_blocked_reason
    assert not Invoice.objects.filter(subscription=huge).exists()
    assert Invoice.objects.filter(subscription=fine).count() == 1
    assert Subscription.objects.get(pk=fine.pk).billing_blocked_at is None

    # A second failure keeps "since when" and is still reported.
    again = cycles_close(at=utc(2026, 4, 1, 1))
    assert len(again.errors) == 1
    huge.refresh_from_db()
    assert huge.billing_blocked_at == utc(2026, 4, 1)


def test_the_admin_lists_blocked_subscriptions_with_the_reason(blocked, admin_client):
    huge, fine, _ = blocked
    url = reverse("admin:customers_subscription_changelist")

    page = admin_client.get(url, {"billing": "blocked"})

    content = page.content.decode()
    assert page.status_code == 200
    assert "since 2026-04-01 00:00 UTC" in content
    assert "(huge)" in content and "needs a unit amount" in content
    assert "(fine)" not in content


@pytest.mark.postgres
def test_excluding_the_bad_event_unblocks_billing(admin_client, admin_user):
    # PostgreSQL enforces the amount column's 20 digits (SQLite stores any number).
    huge, _ = _huge_and_fine()
    first = cycles_close(at=utc(2026, 4, 1))
    assert len(first.errors) == 1 and "overflow" in first.errors[0]
    huge.refresh_from_db()
    assert huge.billing_blocked_at == utc(2026, 4, 1)
    bad = Event.objects.get(external_customer_id="huge", properties__tokens=10**15)

    response = admin_client.post(
        reverse("admin:metering_event_exclude", args=[bad.pk]),
        {"reason": "Test traffic sent by mistake (ticket 42)."},
    )

    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.excluded_by == admin_user.username
    assert bad.excluded_reason == "Test traffic sent by mistake (ticket 42)."
    assert bad.excluded_at is not None and bad.excluded_at <= timezone.now()
    detail = admin_client.get(reverse("admin:metering_event_change", args=[bad.pk]))
    assert "Excluded from billing by admin" in detail.content.decode()

    report = cycles_close(at=utc(2026, 4, 1, 2))

    assert report.errors == []
    invoice = Invoice.objects.get(subscription=huge)
    assert invoice.total == Decimal("7000000.00")  # the other event only: 7 × 1,000,000
    huge.refresh_from_db()
    assert huge.billing_blocked_at is None and huge.billing_blocked_reason == ""


def test_an_exclusion_needs_a_reason_and_happens_once(blocked, admin_client):
    bad = Event.objects.get(external_customer_id="huge", properties__tokens=10**15)
    url = reverse("admin:metering_event_exclude", args=[bad.pk])

    admin_client.post(url, {"reason": "  "})
    bad.refresh_from_db()
    assert bad.excluded_at is None

    admin_client.post(url, {"reason": "bad"})
    response = admin_client.post(url, {"reason": "again"}, follow=True)
    bad.refresh_from_db()
    assert bad.excluded_reason == "bad"
    assert "already excluded" in response.content.decode()
