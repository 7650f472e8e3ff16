"""Roles (docs/operations.md, "Roles"): each role on each admin page. The pages are read from
the admin site itself (every registered model's list, add and change page, and every custom
view), so a page added later is covered, and an unlisted custom view fails the last test."""

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse

from billing.models import ApiKey
from billing.roles import BILLING_ADMIN, BILLING_OPERATOR, FINANCE_VIEWER, ROLES, role_actions
from billing.services import api_key_create
from catalog.services.features import feature_create
from console.site import SITE_VIEWS
from customers.services.wallets import wallet_credit
from invoices.models import Invoice
from invoices.services import cycles_close
from lab.models import Backtest
from lab.services import backtest_create
from metering.models import Event
from notifications.models import EmailTemplate, WebhookMessage
from notifications.services.webhooks import webhook_endpoint_create
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

STANDARD_PAGES = ("changelist", "add", "change")
MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.fixture
def world():
    """One object of every kind the admin shows."""
    api_key_create(name="collector")
    User.objects.create_user(username="someone")
    webhook_endpoint_create(url="http://127.0.0.1:9/hooks")
    plan = pro_plan()
    acme = customer("acme", invoice_grace_period_hours=48)
    subscription = subscribe(acme, plan, started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 2), count=3)
    feature_create(code="sso", name="SSO", type="boolean")
    wallet_credit(
        customer=acme,
        currency="USD",
        amount="5.00",
        reason="welcome",
        source_key="world",
        at=utc(2026, 3, 1),
    )
    cycles_close(at=utc(2026, 4, 1))
    backtest_create(
        plan_code=plan.code,
        period_from=utc(2026, 3, 1),
        period_to=utc(2026, 4, 1),
        requested_by="test",
        at=utc(2026, 4, 2),
    )
    return {"customer": acme, "subscription": subscription, "plan": plan}


def _user(role: str) -> User:
    user = User.objects.create_user(username=role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _expected(role: str, model, page: str) -> bool:
    actions = role_actions(role=role, app_label=model._meta.app_label)
    if page == "add":
        model_admin = admin.site._registry[model]
        superuser = type("Superuser", (), {"user": User(is_superuser=True, is_active=True)})()
        return "add" in actions and model_admin.has_add_permission(superuser)
    return "view" in actions or "change" in actions


def _admin_rows(model):
    """The rows the model's admin lists (a proxy such as the overdue invoices filters them)."""
    model_admin = admin.site._registry[model]
    superuser = type("Request", (), {"user": User(is_superuser=True, is_active=True)})()
    return model_admin.get_queryset(superuser)


def _page_url(model, page: str) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    if page != "change":
        return reverse(name)
    obj = _admin_rows(model).order_by("pk").first()
    assert obj is not None, f"the world fixture has no {model._meta.label}"
    return reverse(name, args=[obj.pk])


def test_the_migration_created_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    operator = Group.objects.get(name=BILLING_OPERATOR)
    perms = set(operator.permissions.values_list("codename", flat=True))
    assert {"view_plan", "add_customer", "change_invoice", "view_logentry"} <= perms
    assert not {"add_plan", "change_plan", "add_apikey"} & perms


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_on_each_admin_page(client, world, role):
    """Every registered model's list, add and change page (one world per role: the pages are
    a loop, every mismatch is reported at once)."""
    LogEntry.objects.create(content_type_id=1, object_pk="1", object_repr="x", action=0)
    client.force_login(_user(role))
    mismatches, opened = [], 0
    for model in MODELS:
        for page in STANDARD_PAGES:
            if page == "change" and not _admin_rows(model).exists():
                continue  # e.g. django-q's task results: nothing to open
            url = _page_url(model, page)
            expected = 200 if _expected(role, model, page) else 403
            status = client.get(url).status_code
            opened += 1
            if status != expected:
                mismatches.append(f"{url}: {status}, expected {expected}")
    assert mismatches == []
    assert opened > 30


def test_read_only_roles_see_no_save_button_and_cannot_post(client, world):
    plan_url = f"/admin/catalog/plan/{world['plan'].pk}/change/"
    client.force_login(_user(BILLING_OPERATOR))
    page = client.get(plan_url).content.decode()
    assert 'name="_save"' not in page
    assert client.post(plan_url, {"name": "Hacked"}).status_code == 403

    client.force_login(_user(FINANCE_VIEWER))
    customer_url = f"/admin/customers/customer/{world['customer'].pk}/change/"
    assert 'name="_save"' not in client.get(customer_url).content.decode()
    assert client.post(customer_url, {"name": "Hacked"}).status_code == 403
    world["customer"].refresh_from_db()
    assert world["customer"].name == "Acme Inc."


# Custom admin views: (method, URL from the world, the model permissions the view needs).
def _custom_views(world):
    customer_pk, subscription_pk = world["customer"].pk, world["subscription"].pk
    invoice_pk = Invoice.objects.get().pk
    base = f"/admin/customers/customer/{customer_pk}"
    return {
        "catalog_plan_calculator": (
            "get",
            f"/admin/catalog/plan/{world['plan'].pk}/calculator/",
            ["catalog.view_plan"],
        ),
        "catalog_plan_new_version": (
            "post",
            f"/admin/catalog/plan/{world['plan'].pk}/new-version/",
            ["catalog.add_plan"],
        ),
        "catalog_plan_move_subscribers": (
            "post",
            f"/admin/catalog/plan/{world['plan'].pk}/move-subscribers/",
            ["catalog.view_plan", "customers.change_subscription"],
        ),
        "customers_customer_subscribe": (
            "get",
            f"{base}/subscribe/",
            ["customers.view_customer", "customers.add_subscription"],
        ),
        "customers_customer_change_plan": (
            "get",
            f"{base}/subscriptions/{subscription_pk}/change-plan/",
            ["customers.view_customer", "customers.change_subscription"],
        ),
        "customers_customer_cancel": (
            "get",
            f"{base}/subscriptions/{subscription_pk}/cancel/",
            ["customers.view_customer", "customers.change_subscription"],
        ),
        "customers_customer_upcoming_invoice": (
            "get",
            f"{base}/upcoming-invoice/",
            ["customers.view_customer", "invoices.view_invoice"],
        ),
        "invoices_invoice_finalize": (
            "post",
            f"/admin/invoices/invoice/{invoice_pk}/finalize/",
            ["invoices.change_invoice"],
        ),
        "invoices_invoice_void": (
            "post",
            f"/admin/invoices/invoice/{invoice_pk}/void/",
            ["invoices.change_invoice"],
        ),
        "invoices_invoice_mark_uncollectible": (
            "post",
            f"/admin/invoices/invoice/{invoice_pk}/mark-uncollectible/",
            ["invoices.change_invoice"],
        ),
        "invoices_invoice_credit_note": (
            "get",
            f"/admin/invoices/invoice/{invoice_pk}/credit-note/",
            ["invoices.change_invoice", "invoices.add_creditnote"],
        ),
        "invoices_invoice_rebill": (
            "get",
            f"/admin/invoices/invoice/{invoice_pk}/rebill/",
            ["invoices.change_invoice"],
        ),
        "invoices_invoice_rebill_event": (
            "get",
            f"/admin/invoices/invoice/rebill-event/?customer={world['customer'].external_id}"
            "&at=2026-01-15T00:00:00%2B00:00",
            ["invoices.change_invoice"],
        ),
        "customers_customer_apply_coupon": (
            "get",
            f"{base}/apply-coupon/",
            ["customers.add_appliedcoupon"],
        ),
        "invoices_invoice_record_payment": (
            "get",
            f"/admin/invoices/invoice/{invoice_pk}/record-payment/",
            ["invoices.change_invoice"],
        ),
        "invoices_invoice_retry_payment": (
            "post",
            f"/admin/invoices/invoice/{invoice_pk}/retry-payment/",
            ["invoices.change_invoice"],
        ),
        "metering_event_exclude": (
            "post",
            f"/admin/metering/event/{Event.objects.order_by('pk').first().pk}/exclude/",
            ["metering.change_event"],
        ),
        "metering_event_explorer": (
            "get",
            "/admin/metering/event/explorer/",
            ["metering.view_event"],
        ),
        "notifications_webhookmessage_resend": (
            "post",
            f"/admin/notifications/webhookmessage/{WebhookMessage.objects.first().pk}/resend/",
            ["notifications.change_webhookmessage"],
        ),
        "notifications_emailtemplate_send_test": (
            "post",
            f"/admin/notifications/emailtemplate/{EmailTemplate.objects.first().pk}/send-test/",
            ["notifications.change_emailtemplate"],
        ),
        "lab_backtest_csv": (
            "get",
            f"/admin/lab/backtest/{Backtest.objects.get().pk}/csv/",
            ["lab.view_backtest"],
        ),
        "finance_revenuereport_csv": (
            "get",
            "/admin/finance/revenuereport/csv/",
            ["finance.view_revenuereport"],
        ),
        "finance_receivablesaging_csv": (
            "get",
            "/admin/finance/receivablesaging/csv/",
            ["finance.view_receivablesaging"],
        ),
        "console_usage": ("get", "/admin/usage/", ["metering.view_event"]),
        "console_models": ("get", "/admin/models/", []),
        "console_export": ("get", "/admin/export/invoices/invoice/", ["invoices.view_invoice"]),
        "auth_user_password_change": (
            "get",
            f"/admin/auth/user/{User.objects.order_by('pk').first().pk}/password/",
            ["auth.change_user"],
        ),
    }


def _registered_custom_view_names() -> set[str]:
    names = set()
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        standard = {prefix + page for page in ("changelist", "add", "history", "delete", "change")}
        names |= {p.name for p in model_admin.get_urls() if p.name and p.name not in standard}
    # The site's own pages (console/site.py): the dashboard is the index, the rest are listed.
    return names | {name for _, name, _ in SITE_VIEWS}


CUSTOM_VIEW_NAMES = sorted(_registered_custom_view_names())


def _has(role: str, permission: str) -> bool:
    app_label, codename = permission.split(".")
    return codename.split("_", 1)[0] in role_actions(role=role, app_label=app_label)


def test_every_custom_admin_view_is_in_the_table(world):
    assert set(CUSTOM_VIEW_NAMES) == set(_custom_views(world))


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_on_each_custom_admin_view(client, world, role):
    views = _custom_views(world)
    client.force_login(_user(role))
    mismatches = []
    # Reads first, then the actions (finalize before void), so each action finds its state.
    for name, (method, url, needs) in sorted(views.items(), key=lambda item: item[1][0]):
        allowed = all(_has(role, permission) for permission in needs)
        status = getattr(client, method)(url).status_code
        if (status in (200, 302)) != allowed or (not allowed and status != 403):
            mismatches.append(f"{name} {method.upper()} {url}: {status}, allowed={allowed}")
    assert mismatches == []


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_opens_the_dashboard_and_sees_only_its_figures(client, world, role):
    client.force_login(_user(role))
    page = client.get("/admin/").content.decode()
    assert "MRR" in page
    assert ("Invoices by status" in page) == _has(role, "invoices.view_invoice")
    assert ("Events, last 24 h" in page) == _has(role, "metering.view_event")


def test_the_billing_admin_has_every_billing_permission_but_not_users():
    admin_role = Group.objects.get(name=BILLING_ADMIN)
    perms = set(admin_role.permissions.values_list("content_type__app_label", flat=True))
    assert {"catalog", "customers", "metering", "invoices", "billing"} <= perms
    assert "auth" not in perms
    assert Event._meta.app_label in perms


def test_a_finance_viewer_exports_invoices_to_csv_and_secrets_never_leave(client, world):
    client.force_login(_user(FINANCE_VIEWER))
    invoice = Invoice.objects.get()
    response = client.post(
        "/admin/invoices/invoice/",
        {"action": "export_selected_csv", "_selected_action": [invoice.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,updated_at,customer_id")
    assert lines[1].startswith(f"{invoice.pk},") and ",draft," in lines[1]

    client.force_login(_user(BILLING_ADMIN))
    api_key = ApiKey.objects.get()
    response = client.post(
        "/admin/billing/apikey/",
        {"action": "export_selected_csv", "_selected_action": [api_key.pk]},
    )
    exported = b"".join(response.streaming_content).decode()
    assert "collector" in exported
    assert "key_hash" not in exported and api_key.key_hash not in exported
