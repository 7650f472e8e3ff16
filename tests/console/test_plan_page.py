"""The plan page (docs/operations.md, "The console"): a sample bill over every charge plus the
fee, the subscribers per version, and moving them to a version at the end of their period."""

from datetime import UTC, datetime

import pytest

from catalog.services import plan_new_version
from customers.models import Subscription
from tests.invoices.helpers import customer, pro_plan, subscribe

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_the_sample_bill_prices_every_charge_and_the_fee(admin_client):
    plan = pro_plan()  # $29 fee; credits $0.25, API calls $0.01, storage $1.80 per unit

    page = admin_client.get(f"/admin/catalog/plan/{plan.pk}/change/?sample=100")

    html = page.content.decode()
    sample = html.split('id="sample-prices"')[1]
    assert "$25.00" in sample and "$1.00" in sample and "$180.00" in sample
    assert "$29.00" in sample
    assert '<th class="num" id="sample-total">$235.00</th>' in sample
    # A nonsense quantity falls back to the default sample (1000), never a 500.
    assert admin_client.get(f"/admin/catalog/plan/{plan.pk}/change/?sample=abc").status_code == 200


def test_subscribers_move_to_the_new_version_at_the_end_of_their_period(admin_client):
    plan = pro_plan()
    first = subscribe(customer("acme"), plan, started_at=utc(2026, 3, 1))
    subscribe(customer("globex"), plan, started_at=utc(2026, 3, 15))
    v2 = plan_new_version(plan=plan)

    page = admin_client.get(f"/admin/catalog/plan/{v2.pk}/change/").content.decode()
    subscribers = page.split('id="subscribers"')[1]
    assert "v1" in subscribers and "v2" in subscribers and "Move subscribers to v2" in subscribers

    response = admin_client.post(f"/admin/catalog/plan/{v2.pk}/move-subscribers/", follow=True)
    assert "2 subscription(s) move to" in response.content.decode()
    first.refresh_from_db()
    phases = list(first.phases.order_by("starts_at"))
    assert phases[-1].plan == v2
    assert phases[-1].starts_at == first.current_period_end
    assert first.plan_id in (plan.pk, v2.pk)
    # Twice is once: the pending change is the same.
    admin_client.post(f"/admin/catalog/plan/{v2.pk}/move-subscribers/")
    assert first.phases.count() == len(phases)
    assert Subscription.objects.count() == 2


def test_moving_needs_a_post(admin_client):
    plan = pro_plan()
    assert admin_client.get(f"/admin/catalog/plan/{plan.pk}/move-subscribers/").status_code == 405
