"""POST /api/v1/price-preview: the rating engine on its own, to the cent, with its breakdown."""

import pytest

from catalog.models import Plan

URL = "/api/v1/price-preview"
GROWTH_TIERS = [
    {"up_to": "1000", "unit_amount": "0.80"},
    {"up_to": "2000", "unit_amount": "0.60"},
    {"up_to": None, "unit_amount": "0.40"},
]


def preview(api_client, charge, quantity, currency="USD", **extra):
    body = {"currency": currency, "charge": charge, "quantity": quantity, **extra}
    return api_client.post(URL, body, format="json")


@pytest.mark.parametrize(
    ("charge", "quantity", "amount"),
    [
        # free-tier: per unit $1.00 with 10 free
        ({"model": "per_unit", "unit_amount": "1.00", "free_units": "10"}, "8", "0.00"),
        ({"model": "per_unit", "unit_amount": "1.00", "free_units": "10"}, "15", "5.00"),
        # growth: graduated 1000 @ 0.80, next 1000 @ 0.60, rest @ 0.40
        ({"model": "graduated", "tiers": GROWTH_TIERS}, "2500", "1600.00"),
        # credit-pack: packages of 1000 for 800.00, a started package paid in full
        ({"model": "package", "package_size": "1000", "package_amount": "800.00"}, 1000, "800.00"),
        ({"model": "package", "package_size": "1000", "package_amount": "800.00"}, 1001, "1600.00"),
        # scale: graduated 1000 @ 1.50 then 1.35
        (
            {
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "1.50"},
                    {"up_to": None, "unit_amount": "1.35"},
                ],
            },
            "1500",
            "2175.00",
        ),
        # pro: per unit credits 0.25, API calls 0.01, storage 1.80
        ({"model": "per_unit", "unit_amount": "0.25"}, "50", "12.50"),
        ({"model": "per_unit", "unit_amount": "0.01"}, "1000", "10.00"),
        ({"model": "per_unit", "unit_amount": "1.80"}, "5", "9.00"),
        # hourly-demo: API calls 0.05
        ({"model": "per_unit", "unit_amount": "0.05"}, "7", "0.35"),
    ],
)
def test_worked_examples_to_the_cent(api_client, charge, quantity, amount):
    response = preview(api_client, charge, quantity)

    assert response.status_code == 200, response.json()
    assert response.json()["amount"] == amount
    assert response.json()["currency"] == "USD"


def test_graduated_breakdown_shows_each_band(api_client):
    response = preview(api_client, {"model": "graduated", "tiers": GROWTH_TIERS}, "2500")

    body = response.json()
    assert body["amount"] == "1600.00"
    assert body["exact_amount"] == "1600"
    assert [(line["units"], line["unit_amount"], line["amount"]) for line in body["breakdown"]] == [
        ("1000", "0.8", "800"),
        ("1000", "0.6", "600"),
        ("500", "0.4", "200"),
    ]
    assert body["breakdown"][0]["label"] == "1 – 1000 @ 0.80"
    assert body["breakdown"][2]["up_to"] is None


def test_free_units_are_reported(api_client):
    charge = {"model": "per_unit", "unit_amount": "1.00", "free_units": "10"}

    body = preview(api_client, charge, "15").json()

    assert (body["quantity"], body["free_units"], body["billable_quantity"]) == ("15", "10", "5")


def test_every_seeded_plan_charge_prices_its_worked_example(api_client, demo_catalog):
    """The seeded charges, read back from GET /plans/{code}, price the worked examples."""
    usage = {"credits": "50", "api_calls": "1000", "storage_gb": "5"}
    plan = api_client.get("/api/v1/plans/pro").json()
    amounts = []
    for charge in plan["charges"]:
        fields = {k: v for k, v in charge.items() if k not in ("id", "position") and v is not None}
        response = preview(api_client, fields, usage[charge["meter"]])
        assert response.status_code == 200, response.json()
        amounts.append(response.json()["amount"])
    assert amounts == ["12.50", "10.00", "9.00"]


def test_percentage_uses_the_event_count_for_its_fixed_fee(api_client):
    charge = {"model": "percentage", "rate": "2.9", "fixed_amount": "0.30"}

    response = preview(api_client, charge, "1000", event_count=3)

    assert response.json()["amount"] == "29.90"  # 2.9% of 1000 + 3 × 0.30


@pytest.mark.parametrize(
    ("currency", "unit_amount", "quantity", "amount"),
    [
        ("JPY", "0.5", "3", "2"),  # 1.5 yen rounds half-up to 2
        ("JPY", "0.4", "3", "1"),  # 1.2 yen
        ("BHD", "0.0125", "1", "0.013"),  # three decimals, half-up
        ("BHD", "0.0004", "1", "0.000"),
        ("USD", "0.005", "1", "0.01"),
    ],
)
def test_amount_is_rounded_half_up_to_the_currency(
    api_client, currency, unit_amount, quantity, amount
):
    charge = {"model": "per_unit", "unit_amount": unit_amount}

    response = preview(api_client, charge, quantity, currency=currency)

    assert response.status_code == 200, response.json()
    assert response.json()["amount"] == amount


def test_unknown_currency_is_refused(api_client):
    response = preview(api_client, {"model": "per_unit", "unit_amount": "1"}, "1", currency="XXX")

    assert response.status_code == 400
    assert "currency" in response.json()


def test_invalid_charge_gets_field_errors(api_client):
    tiers = [{"up_to": None, "unit_amount": "1"}, {"up_to": None, "unit_amount": "2"}]

    response = preview(api_client, {"model": "graduated", "tiers": tiers}, "1")

    assert response.status_code == 400
    assert response.json() == {
        "charge": {"tiers": ["Only the last tier may be unbounded (up_to empty)."]}
    }


def test_per_unit_without_unit_amount_is_refused(api_client):
    response = preview(api_client, {"model": "per_unit"}, "1")

    assert response.status_code == 400
    assert response.json()["charge"]["unit_amount"] == ["A per-unit charge needs a unit amount."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "currency": "USD",
                "charge": {"model": "per_unit", "unit_amount": "1"},
                "quantity": "-1",
            },
            "quantity",
        ),
        (
            {
                "currency": "USD",
                "charge": {"model": "per_unit", "unit_amount": "1"},
                "quantity": "x",
            },
            "quantity",
        ),
        ({"currency": "USD", "charge": {"model": "per_unit", "unit_amount": "1"}}, "quantity"),
        ({"currency": "USD", "quantity": "1"}, "charge"),
        (
            {
                "currency": "USD",
                "charge": {"model": "per_unit", "unit_amount": "1"},
                "quantity": "1",
                "extra": 1,
            },
            "extra",
        ),
        (
            {
                "currency": "USD",
                "charge": {"model": "per_unit", "unit_amount": "1", "colour": "red"},
                "quantity": "1",
            },
            "charge",
        ),
        (
            {
                "currency": "USD",
                "charge": {"model": "per_unit", "unit_amount": "1", "meter": "nope"},
                "quantity": "1",
            },
            "charge",
        ),
    ],
)
def test_bad_requests_are_400_not_500(api_client, body, field):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_preview_saves_nothing(api_client):
    preview(api_client, {"model": "graduated", "tiers": GROWTH_TIERS}, "2500")

    assert Plan.objects.count() == 0


def test_preview_needs_an_api_key(anonymous_client):
    response = preview(anonymous_client, {"model": "per_unit", "unit_amount": "1"}, "1")

    assert response.status_code == 401
