"""Backtests (issue 15), as a pricing manager sees them through the API: the current plan
reproduces what was invoiced, a cheaper tier shows the hand-computed difference, a plan change
inside the range re-rates each slice, and the refusals."""

from decimal import Decimal

import pytest

from tests.scenarios.conftest import utc

pytestmark = pytest.mark.django_db

CALLS = {"code": "calls", "name": "Calls", "event_name": "call", "aggregation": "count"}
STORAGE = {
    "code": "storage",
    "name": "Storage",
    "event_name": "stored",
    "aggregation": "max",
    "field": "gb",
}
CALL_TIERS = [
    {"up_to": "100", "unit_amount": "0.10"},
    {"up_to": None, "unit_amount": "0.05"},
]
PRO_CHARGES = [
    {"meter": "calls", "model": "graduated", "free_units": "10", "tiers": CALL_TIERS},
    {"meter": "storage", "model": "per_unit", "unit_amount": "0.50", "min_amount": "5.00"},
]
# (customer, month) → (calls, peak GB)
USAGE = {
    ("acme", 1): (150, 4),
    ("acme", 2): (40, 30),
    ("acme", 3): (300, 12),
    ("globex", 1): (5, 0),
    ("globex", 2): (220, 8),
    ("globex", 3): (90, 20),
}


def start_backtest(operator, django_capture_on_commit_callbacks, body, *, status=202):
    with django_capture_on_commit_callbacks(execute=True):
        answer = operator.post("/api/v1/backtests", body, status=status)
    return answer


def read_backtest(operator, backtest_id):
    response = operator.client.get(f"/api/v1/backtests/{backtest_id}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def billed_quarter(operator):
    """Two customers on Pro (20.00 a month in advance, graduated calls, storage with a 5.00
    minimum) from Jan 1, their usage in Jan–Mar 2026, and those three periods closed."""
    operator.meter(**CALLS)
    operator.meter(**STORAGE)
    operator.plan(code="pro", name="Pro", base_amount="20.00", charges=PRO_CHARGES)
    for customer in ("acme", "globex"):
        operator.customer(customer)
        operator.subscribe(customer, "pro", utc(2026, 1, 1))
    for (customer, month), (calls, gb) in USAGE.items():
        operator.events(customer, "call", utc(2026, month, 10), count=calls)
        if gb:
            operator.events(customer, "stored", utc(2026, month, 11), gb=gb)
    operator.close_cycles(at=utc(2026, 4, 1, 1))
    return operator


def invoiced_for_quarter(operator, customer: str) -> Decimal:
    """What the customer's invoices billed for Jan–Mar: every invoice but April's fee, billed in
    advance at the March close."""
    invoices = operator.invoices(customer)
    total = sum(Decimal(invoice["total"]) for invoice in invoices)
    return total - Decimal("20.00")


def test_the_current_plan_reproduces_the_invoiced_totals(
    billed_quarter, django_capture_on_commit_callbacks
):
    operator = billed_quarter
    answer = start_backtest(
        operator,
        django_capture_on_commit_callbacks,
        {"plan": "pro", "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )
    report = read_backtest(operator, answer["id"])

    assert report["status"] == "succeeded"
    assert report["progress"] == 100
    assert report["customers_done"] == 2
    rows = {row["customer"]: row for row in report["rows"]}
    for customer in ("acme", "globex"):
        assert rows[customer]["periods"] == 3
        assert Decimal(rows[customer]["billed"]) == invoiced_for_quarter(operator, customer)
        assert rows[customer]["would_be"] == rows[customer]["billed"]
        assert rows[customer]["difference"] == "0.00"
    billed = invoiced_for_quarter(operator, "acme") + invoiced_for_quarter(operator, "globex")
    assert report["totals"]["billed"] == str(billed)
    assert report["totals"]["would_be"] == str(billed)
    assert report["totals"]["difference_percent"] == "0.00"
    # Nothing was billed by the backtest.
    assert len(operator.invoices("acme")) == 4


def test_a_cheaper_tier_shows_the_difference_computed_by_hand(
    billed_quarter, django_capture_on_commit_callbacks
):
    operator = billed_quarter
    cheaper = [
        {
            "meter": "calls",
            "model": "graduated",
            "free_units": "10",
            "tiers": [
                {"up_to": "100", "unit_amount": "0.10"},
                {"up_to": None, "unit_amount": "0.02"},
            ],
        },
        PRO_CHARGES[1],
    ]
    response = operator.client.patch("/api/v1/plans/pro", {"charges": cheaper}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2

    answer = start_backtest(
        operator,
        django_capture_on_commit_callbacks,
        {"plan": "pro", "version": 2, "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )
    report = read_backtest(operator, answer["id"])

    assert report["version"] == 2
    rows = {row["customer"]: row for row in report["rows"]}
    # Calls past 100 billable (after 10 free) cost 0.02 instead of 0.05, 0.03 less each:
    # acme: Jan 150 → 40 past, Mar 300 → 190 past: 230 × 0.03 = 6.90 less.
    # globex: Feb 220 → 110 past: 3.30 less.
    assert rows["acme"]["difference"] == "-6.90"
    assert rows["globex"]["difference"] == "-3.30"
    # acme's calls, billable after 10 free: Jan 140 → 10.00 + 40 × 0.05; Feb 30 → 3.00;
    # Mar 290 → 10.00 + 190 × 0.05.
    assert rows["acme"]["charges"]["calls"] == {
        "label": "Calls",
        "billed": "34.50",  # 12.00 + 3.00 + 19.50
        "would_be": "27.60",  # 10.80 + 3.00 + 13.80
    }
    assert report["totals"]["difference"] == "-10.20"
    charges = {move["charge"]: move for move in report["charges"]}
    assert charges["calls"]["difference"] == "-10.20"
    assert charges["storage"]["difference"] == "0.00"
    assert charges["base_fee"]["difference"] == "0.00"


def test_a_plan_change_inside_the_range_is_re_rated_slice_by_slice(
    operator, django_capture_on_commit_callbacks
):
    operator.meter(**CALLS)
    operator.plan(
        code="basic",
        name="Basic",
        base_amount="0",
        charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.20"}],
    )
    operator.plan(
        code="plus",
        name="Plus",
        base_amount="0",
        charges=[{"meter": "calls", "model": "per_unit", "unit_amount": "0.05"}],
    )
    operator.plan(
        code="draft",
        name="Draft",
        base_amount="0",
        charges=[
            {"meter": "calls", "model": "per_unit", "unit_amount": "0.10", "free_units": "100"}
        ],
    )
    operator.customer("initech")
    subscription = operator.subscribe("initech", "basic", utc(2026, 2, 1))
    operator.events("initech", "call", utc(2026, 2, 5), count=80)
    operator.change_plan(subscription["id"], "plus", at=utc(2026, 2, 15))
    operator.events("initech", "call", utc(2026, 2, 20), count=20)
    operator.close_cycles(at=utc(2026, 3, 1, 1))

    answer = start_backtest(
        operator,
        django_capture_on_commit_callbacks,
        {
            "plan": "draft",
            "customers": ["initech"],
            "from": "2026-02-01T00:00:00Z",
            "to": "2026-03-01T00:00:00Z",
        },
    )
    report = read_backtest(operator, answer["id"])

    (row,) = report["rows"]
    # Invoiced: 80 × 0.20 on Basic + 20 × 0.05 on Plus.
    assert row["billed"] == "17.00"
    billed = sum(Decimal(invoice["total"]) for invoice in operator.invoices("initech"))
    assert Decimal(row["billed"]) == billed
    # Each half of February gets half the 100 free calls: (80 − 50) × 0.10 + 0 = 3.00
    # (the whole month on one slice would have been 0.00).
    assert row["would_be"] == "3.00"
    assert row["difference"] == "-14.00"
    assert row["difference_percent"] == "-82.35"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"plan": "nope", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
            404,
            "No plan with code 'nope'.",
        ),
        (
            {"plan": "pro", "from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
            400,
            "'from' must be before 'to'.",
        ),
        (
            {"plan": "pro", "from": "2026-03-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"},
            400,
            "A backtest covers past periods: 'to' must not be in the future.",
        ),
        (
            {
                "plan": "euro",
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
                "customers": ["acme"],
            },
            400,
            "is priced in EUR, but these customers are billed in another currency: acme (USD)",
        ),
        (
            {
                "plan": "pro",
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
                "customers": ["ghost"],
            },
            400,
            "Unknown customers: ghost.",
        ),
    ],
)
def test_refusals_say_why_and_save_nothing(operator, body, status, message):
    operator.meter(**CALLS)
    operator.plan(code="pro", name="Pro", charges=[PRO_CHARGES[0]])
    operator.plan(code="euro", name="Euro", currency="EUR", charges=[PRO_CHARGES[0]])
    operator.customer("acme")
    operator.subscribe("acme", "pro", utc(2026, 1, 1))
    operator.clock.set(utc(2026, 6, 1))

    answer = operator.post("/api/v1/backtests", body, status=status)

    assert message in answer["detail"]
    from lab.models import Backtest

    assert not Backtest.objects.exists()


def test_a_timestamp_without_an_offset_or_an_unknown_field_is_refused(api_client):
    body = {"plan": "pro", "from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00Z"}
    response = api_client.post("/api/v1/backtests", body, format="json")
    assert response.status_code == 400
    assert "with an offset" in response.json()["from"][0]
    body = {"plan": "pro", "from": "2026-01-01T00:00Z", "to": "2026-02-01T00:00Z", "at": "x"}
    response = api_client.post("/api/v1/backtests", body, format="json")
    assert response.json() == {"at": ["Unknown field."]}


def test_an_unknown_backtest_is_a_404(api_client):
    assert api_client.get("/api/v1/backtests/999").status_code == 404
    assert api_client.get("/api/v1/backtests/abc").status_code == 404


def test_a_meter_only_the_draft_prices_counts_its_real_events_and_a_sample_is_a_sample(
    operator, django_capture_on_commit_callbacks
):
    operator.meter(**CALLS)
    operator.meter(code="exports", name="Exports", event_name="export", aggregation="count")
    calls_only = [{"meter": "calls", "model": "per_unit", "unit_amount": "0.10"}]
    operator.plan(code="basic", name="Basic", base_amount="0", charges=calls_only)
    for customer in ("a", "b", "c"):
        operator.customer(customer)
        operator.subscribe(customer, "basic", utc(2026, 1, 1))
        operator.events(customer, "call", utc(2026, 1, 3), count=10)
        operator.events(customer, "export", utc(2026, 1, 4), count=7)
    operator.close_cycles(at=utc(2026, 2, 1, 1))
    with_exports = [*calls_only, {"meter": "exports", "model": "per_unit", "unit_amount": "2.00"}]
    response = operator.client.patch(
        "/api/v1/plans/basic", {"charges": with_exports}, format="json"
    )
    assert response.json()["version"] == 2

    answer = start_backtest(
        operator,
        django_capture_on_commit_callbacks,
        {"plan": "basic", "sample": 2, "from": "2026-01-01T00:00Z", "to": "2026-02-01T00:00Z"},
    )
    report = read_backtest(operator, answer["id"])

    assert report["selection"] == "sample"
    assert report["customers_selected"] == 2
    assert len(report["rows"]) == 2
    for row in report["rows"]:
        assert row["billed"] == "1.00"
        # The 7 exports were never billed, but the events are there: 7 × 2.00.
        assert row["charges"]["exports"] == {
            "label": "Exports",
            "billed": "0.00",
            "would_be": "14.00",
        }
        assert row["would_be"] == "15.00"
