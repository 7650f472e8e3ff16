"""The admin's Finance section: who may open it, and what the pages show."""

import csv
import io

import pytest

from tests.finance.test_revenue import annual_customer

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/finance/",
    "/admin/finance/revenuereport/",
    "/admin/finance/revenuereport/csv/",
    "/admin/finance/financeexport/",
    "/admin/finance/receivablesaging/",
    "/admin/finance/receivablesaging/csv/",
    "/admin/finance/revenueschedule/",
]


@pytest.mark.parametrize("role", ["finance_viewer", "billing_admin"])
def test_the_finance_roles_open_every_finance_page(client, request, role):
    client.force_login(request.getfixturevalue(role))
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    index = client.get("/admin/").content.decode()
    assert "Finance" in index and "/admin/finance/revenuereport/" in index


def test_a_role_without_finance_is_refused(client, billing_operator):
    client.force_login(billing_operator)
    for url in PAGES[1:]:
        assert client.get(url).status_code == 403, url
    assert client.get(PAGES[0]).status_code == 404  # Django's app index for an app one cannot see
    assert "/admin/finance/" not in client.get("/admin/").content.decode()


def test_the_revenue_report_page_draws_the_chart_and_the_table(client, finance_viewer):
    annual_customer()
    client.force_login(finance_viewer)
    page = client.get("/admin/finance/revenuereport/?from=2026-01&to=2026-12").content.decode()
    assert "<svg" in page and "<polyline" in page
    assert "Jan 2026: billed $1,200.00" in page  # a bar's title
    assert "<td>2026-01</td><td>$1,200.00</td><td>$101.92</td><td>$1,098.08</td>" in page
    assert "USD: billed $1,200.00, recognised $1,200.00" in page
    bad = client.get("/admin/finance/revenuereport/?from=2026-13").content.decode()
    assert "A month as YYYY-MM" in bad


def test_the_revenue_csv(client, finance_viewer):
    annual_customer()
    client.force_login(finance_viewer)
    response = client.get("/admin/finance/revenuereport/csv/?from=2026-01&to=2026-03")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["month"], r["billed"], r["recognised"], r["deferred"]) for r in rows] == [
        ("2026-01", "1200.00", "101.92", "1098.08"),
        ("2026-02", "0.00", "92.05", "1006.03"),
        ("2026-03", "0.00", "101.92", "904.11"),
    ]
    assert client.get("/admin/finance/revenuereport/csv/?to=2026-99").status_code == 400


def test_the_schedule_page_lists_its_months(client, finance_viewer):
    invoice = annual_customer()
    client.force_login(finance_viewer)
    schedule = invoice.revenue_schedules.get()
    page = client.get(f"/admin/finance/revenueschedule/{schedule.pk}/change/").content.decode()
    assert "101.92" in page and "Dec. 1, 2026" in page
    assert 'name="_save"' not in page
