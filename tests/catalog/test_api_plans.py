"""Plans over the API (docs/api.md): create with charges and tiers, read, and every refusal."""

import pytest

from catalog.models import Charge, Plan, Tier
from tests.factories import MeterFactory

URL = "/api/v1/plans"


@pytest.fixture
def api_calls(db):
    return MeterFactory(code="api_calls", name="API calls", event_name="api_call")


def growth_body(**overrides):
    return {
        "code": "growth",
        "name": "Growth (tiered API)",
        "currency": "USD",
        "interval": "month",
        "charges": [
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "0.80"},
                    {"up_to": "2000", "unit_amount": "0.60"},
                    {"up_to": None, "unit_amount": "0.40"},
                ],
            }
        ],
        **overrides,
    }


def counts():
    return Plan.objects.count(), Charge.objects.count(), Tier.objects.count()


def test_create_plan_returns_it_with_nested_charges_and_tiers(api_client, api_calls):
    body = growth_body(
        description="API calls in tiers",
        base_amount="49.00",
        base_timing="in_arrears",
        setup_amount="10",
        trial_days=14,
        interval_count=1,
        metadata={"team": "growth"},
    )

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    plan = response.json()
    assert {k: plan[k] for k in ("code", "version", "name", "currency", "interval")} == {
        "code": "growth",
        "version": 1,
        "name": "Growth (tiered API)",
        "currency": "USD",
        "interval": "month",
    }
    assert plan["base_amount"] == "49.00"
    assert plan["setup_amount"] == "10.00"
    assert plan["base_timing"] == "in_arrears"
    assert (plan["trial_days"], plan["metadata"], plan["in_use"]) == (14, {"team": "growth"}, False)
    assert plan["description"] == "API calls in tiers"
    [charge] = plan["charges"]
    assert (charge["meter"], charge["model"], charge["cadence"]) == (
        "api_calls",
        "graduated",
        "in_arrears",
    )
    assert charge["tiers"] == [
        {"up_to": "1000", "unit_amount": "0.80", "flat_amount": "0.00"},
        {"up_to": "2000", "unit_amount": "0.60", "flat_amount": "0.00"},
        {"up_to": None, "unit_amount": "0.40", "flat_amount": "0.00"},
    ]
    assert counts() == (1, 1, 3)


def test_get_plan_returns_the_stored_plan(api_client, api_calls):
    api_client.post(URL, growth_body(), format="json")

    response = api_client.get(f"{URL}/growth")

    assert response.status_code == 200
    assert response.json()["charges"][0]["tiers"][0] == {
        "up_to": "1000",
        "unit_amount": "0.80",
        "flat_amount": "0.00",
    }


def test_plan_money_keeps_the_currency_decimals(api_client, api_calls):
    body = {
        "code": "jp",
        "name": "Japan",
        "currency": "JPY",
        "interval": "month",
        "base_amount": "1000",
        "charges": [{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.5"}],
    }

    plan = api_client.post(URL, body, format="json").json()

    assert plan["base_amount"] == "1000"
    assert plan["charges"][0]["unit_amount"] == "0.5"


def test_every_pricing_model_can_be_created(api_client, api_calls):
    charges = [
        {"meter": "api_calls", "model": "flat", "amount": "10.00"},
        {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.0012", "free_units": "100"},
        {"meter": "api_calls", "model": "package", "package_size": "1000", "package_amount": "8"},
        {
            "meter": "api_calls",
            "model": "volume",
            "tiers": [
                {"up_to": "100", "unit_amount": "1"},
                {"up_to": None, "unit_amount": "0.5", "flat_amount": "5"},
            ],
        },
        {
            "meter": "api_calls",
            "model": "stairstep",
            "tiers": [
                {"up_to": "10", "unit_amount": "0", "flat_amount": "10"},
                {"up_to": None, "flat_amount": "25"},
            ],
        },
        {"meter": "api_calls", "model": "percentage", "rate": "2.9", "fixed_amount": "0.30"},
        {
            "meter": "api_calls",
            "model": "per_unit",
            "unit_amount": "1",
            "min_amount": "5",
            "max_amount": "100",
            "cadence": "on_demand",
            "description": "Capped calls",
        },
    ]

    response = api_client.post(URL, growth_body(code="all", charges=charges), format="json")

    assert response.status_code == 201, response.json()
    returned = response.json()["charges"]
    assert [c["model"] for c in returned] == [c["model"] for c in charges]
    assert returned[1]["unit_amount"] == "0.0012"
    assert returned[1]["free_units"] == "100"
    assert returned[2]["package_size"] == "1000"
    assert returned[5]["rate"] == "2.9"
    assert (returned[6]["min_amount"], returned[6]["max_amount"]) == ("5.00", "100.00")
    assert returned[6]["cadence"] == "on_demand"


def test_list_shows_the_latest_version_of_each_plan(api_client, api_calls):
    api_client.post(URL, growth_body(), format="json")
    api_client.post(URL, growth_body(code="scale", name="Scale"), format="json")

    response = api_client.get(URL)

    assert response.status_code == 200
    assert [(p["code"], p["version"]) for p in response.json()] == [("growth", 1), ("scale", 1)]


# --- the invalid plans of the issue: 400 with field errors, nothing saved ---------------------


def tiered(tiers):
    return [{"meter": "api_calls", "model": "graduated", "tiers": tiers}]


INVALID_PLANS = {
    "tiers out of order": (
        {
            "charges": tiered(
                [
                    {"up_to": "2000", "unit_amount": "0.80"},
                    {"up_to": "1000", "unit_amount": "0.60"},
                    {"up_to": None, "unit_amount": "0.40"},
                ]
            )
        },
        {
            "charges": {
                "0": {
                    "tiers": [
                        "Tiers must be in ascending order of up_to: tier 2 (1000) is not above "
                        "tier 1 (2000)."
                    ]
                }
            }
        },
    ),
    "two unbounded tiers": (
        {
            "charges": tiered(
                [{"up_to": None, "unit_amount": "0.80"}, {"up_to": None, "unit_amount": "0.60"}]
            )
        },
        {"charges": {"0": {"tiers": ["Only the last tier may be unbounded (up_to empty)."]}}},
    ),
    "per-unit without unit amount": (
        {"charges": [{"meter": "api_calls", "model": "per_unit"}]},
        {"charges": {"0": {"unit_amount": ["A per-unit charge needs a unit amount."]}}},
    ),
    "negative price": (
        {"charges": [{"meter": "api_calls", "model": "per_unit", "unit_amount": "-0.10"}]},
        {"charges": {"0": {"unit_amount": ["The unit amount cannot be negative (-0.1)."]}}},
    ),
    "negative tier price": (
        {
            "charges": tiered(
                [{"up_to": "10", "unit_amount": "-1"}, {"up_to": None, "unit_amount": "1"}]
            )
        },
        {"charges": {"0": {"tiers": ["Tier 1: the unit amount cannot be negative."]}}},
    ),
    "currency XXX": (
        {"currency": "XXX"},
        {
            "currency": [
                "'XXX' is not a currency Tally can bill in: use an ISO 4217 code such as USD, "
                "EUR or JPY."
            ]
        },
    ),
}


@pytest.mark.parametrize("case", INVALID_PLANS, ids=list(INVALID_PLANS))
def test_invalid_plan_is_refused_with_field_errors_and_nothing_saved(api_client, api_calls, case):
    overrides, errors = INVALID_PLANS[case]

    response = api_client.post(URL, growth_body(**overrides), format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert counts() == (0, 0, 0)


def test_errors_of_several_charges_are_keyed_by_index(api_client, api_calls):
    charges = [
        {"meter": "api_calls", "model": "per_unit", "unit_amount": "1"},
        {"meter": "api_calls", "model": "package", "package_amount": "5"},
        {"meter": "nope", "model": "per_unit", "unit_amount": "1"},
    ]

    response = api_client.post(URL, growth_body(charges=charges), format="json")

    assert response.status_code == 400
    assert response.json() == {
        "charges": {
            "1": {"package_size": ["A package charge needs a package size."]},
            "2": {"meter": ["Unknown meter 'nope': create it first (POST /api/v1/meters)."]},
        }
    }
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (growth_body(colour="blue"), {"colour": ["Unknown field."]}),
        (growth_body(version=3), {"version": ["This field is read-only."]}),
        (
            growth_body(charges=[{"meter": "api_calls", "model": "per_unit", "price": "1"}]),
            {"charges": {"0": {"price": ["Unknown field."]}}},
        ),
        (
            growth_body(charges=tiered([{"up_to": None, "unit_amount": "x"}])),
            {"charges": {"0": {"tiers": ["Tier 1 unit amount: A valid number is required."]}}},
        ),
        (
            growth_body(charges=tiered([{"upto": None, "unit_amount": "1"}])),
            {"charges": {"0": {"tiers": ["Tier 1 upto: Unknown field."]}}},
        ),
        (growth_body(interval="fortnight"), {"interval": ['"fortnight" is not a valid choice.']}),
        (growth_body(base_amount="-5"), {"base_amount": ["The base amount cannot be negative."]}),
        (
            growth_body(interval_count=0),
            {"interval_count": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            growth_body(features=[{"code": "sso"}]),
            {"features": {"0": {"feature": ["This field is required: a feature code."]}}},
        ),
        (
            growth_body(features=[{"feature": "sso"}]),
            {
                "features": {
                    "0": {
                        "feature": [
                            "Unknown feature 'sso': create it first (POST /api/v1/features)."
                        ]
                    }
                }
            },
        ),
    ],
)
def test_malformed_plans_are_400_with_the_field_named(api_client, api_calls, body, errors):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert counts() == (0, 0, 0)


def test_missing_required_fields_are_named(api_client, db):
    response = api_client.post(URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"code", "name", "currency", "interval"}


def test_duplicate_code_is_a_conflict(api_client, api_calls):
    api_client.post(URL, growth_body(), format="json")

    response = api_client.post(URL, growth_body(name="Another"), format="json")

    assert response.status_code == 409
    assert "growth" in response.json()["detail"]
    assert Plan.objects.get().name == "Growth (tiered API)"


def test_lower_case_currency_is_stored_upper_case(api_client, api_calls):
    response = api_client.post(URL, growth_body(currency="eur"), format="json")

    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"


def test_unknown_plan_is_404(api_client, db):
    response = api_client.get(f"{URL}/nope")

    assert response.status_code == 404
    assert response.json() == {"detail": "No plan with code 'nope'."}


def test_plans_need_an_api_key(anonymous_client, db):
    assert anonymous_client.get(URL).status_code == 401
    assert anonymous_client.post(URL, growth_body(), format="json").status_code == 401
