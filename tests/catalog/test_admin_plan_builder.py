"""The admin plan builder: a tiered plan built on one page, refused with form errors when wrong."""

from decimal import Decimal

import pytest

from catalog.models import Charge, Meter, Plan, Tier
from catalog.selectors import plan_latest
from tests.catalog.conftest import plan_builder_post
from tests.factories import MeterFactory

ADD_URL = "/admin/catalog/plan/add/"


@pytest.fixture
def api_calls(db):
    return MeterFactory(code="api_calls", name="API calls", event_name="api_call")


def graduated(meter, tiers):
    return {"meter": str(meter.pk), "model": "graduated", "tiers": tiers}


GROWTH_TIERS = [
    {"up_to": "1000", "unit_amount": "0.80"},
    {"up_to": "2000", "unit_amount": "0.60"},
    {"up_to": "", "unit_amount": "0.40"},
]


def counts():
    return Plan.objects.count(), Charge.objects.count(), Tier.objects.count()


def test_add_page_shows_the_charge_form_with_its_tier_table(admin_client, api_calls):
    response = admin_client.get(ADD_URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Charges (usage pricing)" in page
    assert 'name="charges-0-model"' in page
    assert 'name="charges-0-tiers-0-up_to"' in page
    assert "Add a tier row" in page
    assert "catalog/plan_builder.js" in page


def test_a_tiered_plan_is_built_on_one_page(admin_client, api_calls):
    data = plan_builder_post(
        code="growth",
        name="Growth (tiered API)",
        charges=[{**graduated(api_calls, GROWTH_TIERS), "description": "API calls"}],
    )

    response = admin_client.post(ADD_URL, {**data, "_continue": "Save and continue editing"})

    assert response.status_code == 302, response.content.decode()
    plan = Plan.objects.get(code="growth")
    assert response.url == f"/admin/catalog/plan/{plan.pk}/change/"
    assert "was added successfully" in admin_client.get(response.url).content.decode()
    charge = plan.charges.get()
    assert (charge.model, charge.description, charge.meter) == ("graduated", "API calls", api_calls)
    assert [(t.position, t.up_to, t.unit_amount) for t in charge.tiers.all()] == [
        (0, Decimal("1000"), Decimal("0.80")),
        (1, Decimal("2000"), Decimal("0.60")),
        (2, None, Decimal("0.40")),
    ]


def test_blank_tier_rows_are_ignored(admin_client, api_calls):
    tiers = [{"up_to": "", "unit_amount": "", "flat_amount": ""}, *GROWTH_TIERS]

    admin_client.post(ADD_URL, plan_builder_post(charges=[graduated(api_calls, tiers)]))

    assert Tier.objects.count() == 3


@pytest.mark.parametrize(
    ("plan_fields", "charge", "message"),
    [
        (
            {},
            lambda meter: graduated(
                meter,
                [{"up_to": "", "unit_amount": "0.80"}, {"up_to": "", "unit_amount": "0.60"}],
            ),
            "Only the last tier may be unbounded (up_to empty).",
        ),
        (
            {},
            lambda meter: graduated(
                meter,
                [
                    {"up_to": "2000", "unit_amount": "0.80"},
                    {"up_to": "1000", "unit_amount": "0.60"},
                    {"up_to": "", "unit_amount": "0.40"},
                ],
            ),
            "Tiers must be in ascending order of up_to",
        ),
        (
            {},
            lambda meter: {"meter": str(meter.pk), "model": "per_unit"},
            "A per-unit charge needs a unit amount.",
        ),
        (
            {},
            lambda meter: {"meter": str(meter.pk), "model": "per_unit", "unit_amount": "-1"},
            "The unit amount cannot be negative (-1).",
        ),
        (
            {"currency": "XXX"},
            lambda meter: {"meter": str(meter.pk), "model": "per_unit", "unit_amount": "1"},
            "is not a currency Tally can bill in",
        ),
        (
            {"base_amount": "-5"},
            lambda meter: {"meter": str(meter.pk), "model": "per_unit", "unit_amount": "1"},
            "The base amount cannot be negative.",
        ),
    ],
    ids=[
        "two unbounded tiers",
        "tiers out of order",
        "per-unit without unit amount",
        "negative price",
        "currency XXX",
        "negative base fee",
    ],
)
def test_invalid_plans_get_form_errors_and_nothing_is_saved(
    admin_client, api_calls, plan_fields, charge, message
):
    response = admin_client.post(
        ADD_URL, plan_builder_post(charges=[charge(api_calls)], **plan_fields)
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Please correct the error" in page
    assert message in page
    assert counts() == (0, 0, 0)


def test_a_tier_error_is_shown_on_the_tier_table(admin_client, api_calls):
    tiers = [{"up_to": "", "unit_amount": "0.80"}, {"up_to": "", "unit_amount": "0.60"}]

    response = admin_client.post(ADD_URL, plan_builder_post(charges=[graduated(api_calls, tiers)]))

    charge_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert charge_form.tiers.non_form_errors() == [
        "Only the last tier may be unbounded (up_to empty)."
    ]
    assert "Check the tiers of this charge, below." in charge_form.non_field_errors()


def test_the_error_is_on_the_field_it_is_about(admin_client, api_calls):
    charge = {"meter": str(api_calls.pk), "model": "package", "package_amount": "8"}

    response = admin_client.post(ADD_URL, plan_builder_post(charges=[charge]))

    charge_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert charge_form.errors["package_size"] == ["A package charge needs a package size."]


def test_a_duplicate_code_is_a_form_error(admin_client, demo_catalog):
    meter = Meter.objects.get(code="api_calls")
    charge = {"meter": str(meter.pk), "model": "per_unit", "unit_amount": "1"}

    response = admin_client.post(ADD_URL, plan_builder_post(code="growth", charges=[charge]))

    assert response.status_code == 200
    assert "A plan with this code exists" in response.content.decode()
    assert Plan.objects.filter(code="growth").count() == 1


def test_editing_an_unused_plan_in_place(admin_client, demo_catalog):
    plan = plan_latest(code="growth")
    charge = plan.charges.get()
    data = plan_builder_post(
        code="growth",
        name="Growth (tiered API)",
        base_amount="15",
        charges=[
            {
                "id": str(charge.pk),
                **graduated(
                    charge.meter,
                    [{"up_to": "500", "unit_amount": "1"}, {"up_to": "", "unit_amount": "0.5"}],
                ),
            }
        ],
    )
    data["charges-INITIAL_FORMS"] = "1"
    data["charges-0-tiers-INITIAL_FORMS"] = "3"

    response = admin_client.post(f"/admin/catalog/plan/{plan.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()
    plan.refresh_from_db()
    assert (plan.version, plan.base_amount) == (1, Decimal("15"))
    tiers = Tier.objects.filter(charge__plan=plan).order_by("position")
    assert [(t.up_to, t.unit_amount) for t in tiers] == [
        (Decimal("500"), Decimal("1")),
        (None, Decimal("0.5")),
    ]


def test_change_page_shows_the_tiers_and_the_calculator(admin_client, demo_catalog):
    plan = plan_latest(code="growth")

    response = admin_client.get(f"/admin/catalog/plan/{plan.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="1000"' in page and 'value="0.40"' in page
    assert "Price calculator" in page
    assert f'action="/admin/catalog/plan/{plan.pk}/calculator/"' in page
    assert "Create new version" not in page


def test_changelist_lists_plans_with_their_fee_and_charges(admin_client, demo_catalog):
    response = admin_client.get("/admin/catalog/plan/?q=scale")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Scale" in page and "$199.00" in page and "monthly" in page
    assert "Growth (tiered API)" not in page


def test_feature_grants_are_built_on_the_plan_page_with_the_api_rules(admin_client, api_calls):
    from catalog.services.features import feature_create

    calls = feature_create(code="calls", name="API calls", type="metered", meter=api_calls)
    sso = feature_create(code="sso", name="SSO", type="boolean")
    page = admin_client.get(ADD_URL).content.decode()
    assert 'name="feature_grants-0-feature"' in page and "Alerts (%)" in page

    bad = plan_builder_post(
        code="team",
        charges=[],
        grants=[{"feature": str(sso.pk), "limit": "5", "alerts_text": ""}],
    )
    response = admin_client.post(ADD_URL, bad)
    assert response.status_code == 200
    assert "Only a metered feature has a limit." in response.content.decode()
    assert not Plan.objects.filter(code="team").exists()

    good = plan_builder_post(
        code="team",
        charges=[],
        grants=[
            {"feature": str(calls.pk), "limit": "1000", "hard": "on", "alerts_text": "80, 100"},
            {"feature": str(sso.pk), "limit": "", "alerts_text": ""},
        ],
    )
    response = admin_client.post(ADD_URL, good)
    assert response.status_code == 302, response.content.decode()
    plan = Plan.objects.get(code="team")
    grants = sorted((g.feature.code, g.limit, g.hard, g.alerts) for g in plan.feature_grants.all())
    assert grants == [("calls", Decimal("1000"), True, [80, 100]), ("sso", None, True, [])]
    change = admin_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert 'value="80, 100"' in change and 'value="1000"' in change
