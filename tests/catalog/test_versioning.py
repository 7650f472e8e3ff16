"""A plan in use is frozen: changing it makes a new version; subscriptions keep theirs."""

from decimal import Decimal

import pytest

from billing.errors import AppError
from catalog.models import Charge, Plan
from catalog.selectors import plan_is_frozen, plan_latest
from catalog.services import plan_new_version, plan_update

URL = "/api/v1/plans"


@pytest.fixture
def growth(demo_catalog):
    return plan_latest(code="growth")


def test_an_unused_plan_is_not_frozen_and_is_edited_in_place(api_client, growth):
    response = api_client.patch(f"{URL}/growth", {"name": "Growth v1b"}, format="json")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["id"]) == (1, growth.pk)
    assert Plan.objects.filter(code="growth").count() == 1
    assert Plan.objects.get(pk=growth.pk).name == "Growth v1b"


def test_replacing_the_charges_of_an_unused_plan(api_client, growth):
    charges = [{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.70"}]

    response = api_client.patch(f"{URL}/growth", {"charges": charges}, format="json")

    assert response.status_code == 200
    assert [(c["model"], c["unit_amount"]) for c in response.json()["charges"]] == [
        ("per_unit", "0.70")
    ]
    assert Charge.objects.filter(plan=growth).count() == 1


def test_a_used_plan_is_frozen(growth, put_in_use):
    assert not plan_is_frozen(plan=growth)

    put_in_use(growth)

    assert plan_is_frozen(plan=growth)


def test_changing_a_used_plan_creates_the_next_version(api_client, growth, put_in_use):
    subscription = put_in_use(growth)
    charges = [
        {
            "meter": "api_calls",
            "model": "graduated",
            "tiers": [
                {"up_to": "1000", "unit_amount": "0.70"},
                {"up_to": None, "unit_amount": "0.30"},
            ],
        }
    ]

    response = api_client.patch(
        f"{URL}/growth", {"base_amount": "10", "charges": charges}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["version"], body["base_amount"], body["in_use"]) == (2, "10.00", False)
    assert [t["unit_amount"] for t in body["charges"][0]["tiers"]] == ["0.70", "0.30"]
    old = Plan.objects.get(pk=growth.pk)
    assert (old.version, old.base_amount) == (1, Decimal("0"))
    assert [t.unit_amount for t in old.charges.get().tiers.all()] == [
        Decimal("0.80"),
        Decimal("0.60"),
        Decimal("0.40"),
    ]
    subscription.refresh_from_db()
    assert subscription.plan_id == growth.pk
    assert api_client.get(f"{URL}/growth").json()["version"] == 2
    assert api_client.get(f"{URL}/growth?version=1").json()["in_use"] is True
    versions = api_client.get(f"{URL}/growth/versions").json()
    assert [(v["version"], v["in_use"]) for v in versions] == [(2, False), (1, True)]


def test_a_new_version_copies_the_charges_it_does_not_replace(growth, put_in_use):
    put_in_use(growth)

    new = plan_update(plan=growth, name="Growth 2026")

    assert (new.version, new.name, new.code) == (2, "Growth 2026", "growth")
    charge = new.charges.get()
    assert charge.pk != growth.charges.get().pk
    assert [(t.up_to, t.unit_amount) for t in charge.tiers.all()] == [
        (Decimal("1000"), Decimal("0.80")),
        (Decimal("2000"), Decimal("0.60")),
        (None, Decimal("0.40")),
    ]


def test_the_next_version_follows_the_highest_one(growth, put_in_use):
    put_in_use(growth)
    second = plan_new_version(plan=growth)
    put_in_use(second)

    third = plan_update(plan=second, name="Third")

    assert [p.version for p in Plan.objects.filter(code="growth").order_by("version")] == [1, 2, 3]
    assert third.version == 3


def test_an_unchanged_used_plan_makes_no_new_version(growth, put_in_use):
    put_in_use(growth)

    same = plan_update(plan=growth, name=growth.name, base_amount="0.00")

    assert same.pk == growth.pk
    assert Plan.objects.filter(code="growth").count() == 1


def test_a_used_plan_keeps_its_currency(api_client, growth, put_in_use):
    put_in_use(growth)

    response = api_client.patch(f"{URL}/growth", {"currency": "EUR"}, format="json")

    assert response.status_code == 400
    assert "currency" in response.json()
    assert Plan.objects.filter(code="growth").count() == 1


def test_an_invalid_change_writes_nothing(api_client, growth, put_in_use):
    put_in_use(growth)
    charges = [{"meter": "api_calls", "model": "per_unit"}]

    response = api_client.patch(f"{URL}/growth", {"charges": charges}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "charges": {"0": {"unit_amount": ["A per-unit charge needs a unit amount."]}}
    }
    assert Plan.objects.filter(code="growth").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"code": "other"}, "code"), ({"colour": "red"}, "colour"), ({"currency": "XXX"}, "currency")],
)
def test_patch_refusals(api_client, growth, body, field):
    response = api_client.patch(f"{URL}/growth", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Plan.objects.get(code="growth").currency == "USD"


def test_patch_of_an_unknown_plan_is_404(api_client, db):
    assert api_client.patch(f"{URL}/nope", {"name": "x"}, format="json").status_code == 404


def test_service_refusal_reads_well_as_a_django_validation_error(growth):
    with pytest.raises(AppError) as refusal:
        plan_update(plan=growth, charges=[{"meter": "api_calls", "model": "volume"}])

    assert refusal.value.detail == {
        "charges": {"0": {"tiers": ["A volume charge needs at least one tier."]}}
    }
    assert refusal.value.message_dict == {
        "charges": ["Charge 1, tiers: A volume charge needs at least one tier."]
    }
