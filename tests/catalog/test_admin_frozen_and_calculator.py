"""Admin: frozen versions are read-only with "Create new version"; the price calculator."""

import pytest
from django.contrib.auth.models import Permission, User

from catalog.models import Plan
from catalog.selectors import plan_latest


@pytest.fixture
def growth(demo_catalog):
    return plan_latest(code="growth")


def calculate(client, plan, quantity, **extra):
    charge = plan.charges.first()
    body = {"charge": str(charge.pk), "quantity": quantity, "event_count": "0", **extra}
    return client.post(f"/admin/catalog/plan/{plan.pk}/calculator/", body)


def test_calculator_shows_the_amount_and_the_tier_breakdown(admin_client, growth):
    response = calculate(admin_client, growth, "2500")

    page = response.content.decode()
    assert response.status_code == 200
    assert "$1,600.00" in page
    assert "1 – 1000 @ 0.80" in page
    assert "1001 – 2000 @ 0.60" in page
    assert "2001 and above @ 0.40" in page
    assert "<td>800.00</td>" in page and "<td>200.00</td>" in page


def test_calculator_shows_free_units(admin_client, demo_catalog):
    free = plan_latest(code="free-tier")

    page = calculate(admin_client, free, "15").content.decode()

    assert "$5.00" in page
    assert "of which 10 free" in page


def test_calculator_refuses_a_bad_quantity_with_a_form_error(admin_client, growth):
    response = calculate(admin_client, growth, "-3")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in page
    assert "$" not in page.split("Price a quantity")[0].split("content-main")[-1]


def test_calculator_get_shows_the_form(admin_client, growth):
    response = admin_client.get(f"/admin/catalog/plan/{growth.pk}/calculator/")

    assert response.status_code == 200
    assert 'name="quantity"' in response.content.decode()


def test_calculator_needs_the_view_plan_permission(client, growth):
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)

    assert calculate(client, growth, "1").status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_plan"))
    assert calculate(client, growth, "1").status_code == 200


def test_charge_page_has_the_calculator(admin_client, growth):
    charge = growth.charges.get()

    response = admin_client.get(f"/admin/catalog/charge/{charge.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'action="/admin/catalog/plan/{growth.pk}/calculator/"' in page
    assert "0.80" in page


def test_a_plan_in_use_is_read_only_with_create_new_version(admin_client, growth, put_in_use):
    put_in_use(growth)

    response = admin_client.get(f"/admin/catalog/plan/{growth.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Create new version" in page
    assert "is used by subscriptions, so it is read-only" in page
    assert 'name="_save"' not in page
    assert 'name="charges-0-tiers-0-up_to"' not in page
    assert "and above" in page  # the tiers, read-only


def test_a_plan_in_use_cannot_be_posted_to(admin_client, growth, put_in_use):
    put_in_use(growth)

    response = admin_client.post(f"/admin/catalog/plan/{growth.pk}/change/", {"name": "X"})

    assert response.status_code == 403
    assert Plan.objects.get(pk=growth.pk).name == "Growth (tiered API)"


def test_create_new_version_copies_the_plan_and_opens_it(admin_client, growth, put_in_use):
    put_in_use(growth)

    response = admin_client.post(f"/admin/catalog/plan/{growth.pk}/new-version/", follow=True)

    new = plan_latest(code="growth")
    assert new.version == 2
    assert response.redirect_chain[-1][0] == f"/admin/catalog/plan/{new.pk}/change/"
    page = response.content.decode()
    assert "Created version 2 of growth from version 1" in page
    assert 'name="_save"' in page
    assert [t.unit_amount for t in new.charges.get().tiers.all()] == [
        t.unit_amount for t in growth.charges.get().tiers.all()
    ]


def test_create_new_version_goes_to_an_unused_newer_version(admin_client, growth, put_in_use):
    put_in_use(growth)
    admin_client.post(f"/admin/catalog/plan/{growth.pk}/new-version/")

    admin_client.post(f"/admin/catalog/plan/{growth.pk}/new-version/")

    assert Plan.objects.filter(code="growth").count() == 2


def test_create_new_version_needs_post(admin_client, growth):
    response = admin_client.get(f"/admin/catalog/plan/{growth.pk}/new-version/")

    assert response.status_code == 405
    assert Plan.objects.filter(code="growth").count() == 1


def test_meter_admin_pages(admin_client, demo_catalog):
    listing = admin_client.get("/admin/catalog/meter/?q=storage").content.decode()
    meter = plan_latest(code="pro").charges.get(meter__code="storage_gb").meter
    change = admin_client.get(f"/admin/catalog/meter/{meter.pk}/change/")

    assert "storage_gb" in listing and "api_calls" not in listing
    assert change.status_code == 200


def test_meter_admin_add_goes_through_the_rules(admin_client, db):
    data = {
        "code": "gb",
        "name": "GB",
        "description": "",
        "event_name": "storage",
        "aggregation": "max",
        "field": "",
        "filters": "{}",
        "group_by": "",
        "unit": "GB",
        "reset": "period",
    }

    refused = admin_client.post("/admin/catalog/meter/add/", data)
    accepted = admin_client.post("/admin/catalog/meter/add/", {**data, "field": "gb"})

    assert "A max meter reads a property" in refused.content.decode()
    assert accepted.status_code == 302
    assert Plan.objects.count() == 0


def test_charge_changelist(admin_client, demo_catalog):
    response = admin_client.get("/admin/catalog/charge/?model__exact=graduated")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Growth (tiered API)" in page and "Scale" in page
    assert "Credit packs" not in page


def test_a_plan_in_use_shows_its_prices_as_typed_not_as_stored(
    admin_client, demo_catalog, put_in_use
):
    scale = plan_latest(code="scale")  # $199.00 in advance, graduated 1.50 then 1.35
    put_in_use(scale)

    page = admin_client.get(f"/admin/catalog/plan/{scale.pk}/change/").content.decode()

    assert "199.00" in page
    assert "0.000000" not in page and "199.000000" not in page
