"""The backtest report in the admin: started from a plan's page, shown with its totals,
movers, per-charge movement, histogram and CSV."""

import csv
import io

import pytest

from catalog.models import Plan
from lab.models import Backtest
from tests.lab.test_backtests import billed_quarter  # noqa: F401
from tests.scenarios.conftest import utc

pytestmark = pytest.mark.django_db


def test_the_plan_page_links_to_backtest_this_draft(admin_client, billed_quarter):  # noqa: F811
    plan = Plan.objects.get(code="pro")
    page = admin_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert "Backtest this draft" in page
    assert f"/admin/lab/backtest/add/?plan={plan.pk}" in page

    form = admin_client.get(f"/admin/lab/backtest/add/?plan={plan.pk}").content.decode()
    assert f'<option value="{plan.pk}" selected>' in form


def test_a_backtest_started_in_the_admin_renders_its_report(
    admin_client,
    billed_quarter,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    plan = Plan.objects.get(code="pro")
    cheaper = plan.charges.get(meter__code="calls")
    billed_quarter.client.patch(
        "/api/v1/plans/pro",
        {
            "base_amount": "25.00",
            "charges": [
                {"meter": "calls", "model": "per_unit", "unit_amount": "0.01"},
                {"meter": "storage", "model": "per_unit", "unit_amount": "0.50"},
            ],
        },
        format="json",
    )
    assert cheaper.plan.version == 1
    draft = Plan.objects.get(code="pro", version=2)
    billed_quarter.clock.set(utc(2026, 4, 2))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/lab/backtest/add/",
            {
                "plan": draft.pk,
                "period_from": "2026-01-01 00:00",
                "period_to": "2026-04-01 00:00",
                "customers": "acme, globex",
            },
        )
    backtest = Backtest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/lab/backtest/{backtest.pk}/change/"

    page = admin_client.get(response["Location"]).content.decode()
    assert "Succeeded" in page
    assert "<progress" not in page
    assert "Would pay more" in page and "Would pay less" in page
    assert "<svg" in page and "<rect" in page
    assert "Where the money moves, per charge" in page
    assert "Base fee" in page and "Calls" in page and "Storage" in page
    assert "acme" in page and "globex" in page
    # acme: fees 75.00 (was 60.00), calls 490 × 0.01 = 4.90 (was 34.50), storage without its
    # 5.00 minimum 23.00 (was 26.00): 102.90 instead of 120.50.
    # globex: fees 75.00, calls 315 × 0.01 = 3.15 (was 23.50), storage 14.00 (was 20.00):
    # 92.15 instead of 103.50.
    assert "-17.60" in page and "-11.35" in page
    assert "-28.95" in page  # the total

    export = admin_client.get(f"/admin/lab/backtest/{backtest.pk}/csv/")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:8] == [
        "customer",
        "name",
        "periods",
        "currency",
        "billed",
        "would_be",
        "difference",
        "difference_percent",
    ]
    by_customer = {row[0]: row for row in rows[1:]}
    assert set(by_customer) == {"acme", "globex"}
    assert by_customer["acme"][2:8] == ["3", "USD", "120.50", "102.90", "-17.60", "-14.61"]
    assert by_customer["globex"][4:7] == ["103.50", "92.15", "-11.35"]


def test_a_running_backtest_shows_a_progress_bar(admin_client, billed_quarter):  # noqa: F811
    plan = Plan.objects.get(code="pro")
    backtest = Backtest.objects.create(
        plan=plan,
        requested_by="admin:someone",
        period_from=utc(2026, 1, 1),
        period_to=utc(2026, 4, 1),
        selection="plan",
        customers=["acme", "globex"],
        currency="USD",
        status="running",
        progress=50,
        customers_done=1,
    )
    page = admin_client.get(f"/admin/lab/backtest/{backtest.pk}/change/").content.decode()
    assert '<progress max="100" value="50">' in page
    assert "1 of 2 customers" in page
    assert 'http-equiv="refresh"' in page


def test_the_start_form_shows_a_refusal(admin_client, billed_quarter):  # noqa: F811
    plan = Plan.objects.get(code="pro")
    billed_quarter.clock.set(utc(2026, 4, 2))
    page = admin_client.post(
        "/admin/lab/backtest/add/",
        {"plan": plan.pk, "period_from": "2026-03-01 00:00", "period_to": "2026-02-01 00:00"},
    ).content.decode()
    assert "&#x27;from&#x27; must be before &#x27;to&#x27;." in page
    assert not Backtest.objects.exists()
