"""Roles as Django groups (docs/operations.md, "Roles"): which actions each role has on the
models of each app. Keyed by app label, so the models of an app added later (payments) fall
in by themselves; giving a role an app is one line here.

The groups are created by a migration (billing 0003); their permissions are set here after
every migrate (post_migrate, once per app), so they always match this table.
"""

from django.db import DEFAULT_DB_ALIAS

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

BILLING_ADMIN = "Billing admin"
BILLING_OPERATOR = "Billing operator"
FINANCE_VIEWER = "Finance viewer"

# role → {app label: actions on every model of that app}. An app not listed: no access.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    BILLING_ADMIN: {
        "catalog": ALL,
        "customers": ALL,
        "metering": ALL,
        "invoices": ALL,
        "payments": ALL,
        "billing": ALL,
        "notifications": ALL,
        "lab": ALL,
        "finance": VIEW,
        "auditlog": VIEW,
        "django_q": ALL,
    },
    BILLING_OPERATOR: {
        "catalog": VIEW,
        "customers": ALL,
        "metering": VIEW,
        "invoices": ALL,
        "payments": ALL,
        "notifications": VIEW,
        "lab": VIEW,
        "auditlog": VIEW,
    },
    FINANCE_VIEWER: {
        "catalog": VIEW,
        "customers": VIEW,
        "metering": VIEW,
        "invoices": VIEW,
        "payments": VIEW,
        "billing": VIEW,
        "notifications": VIEW,
        "lab": VIEW,
        # The Finance section: revenue report, CSV exports, receivables aging, schedules.
        "finance": VIEW,
        "auditlog": VIEW,
    },
}


def role_actions(*, role: str, app_label: str) -> tuple[str, ...]:
    return ROLES[role].get(app_label, ())


def roles_sync_permissions(*, app_label: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give each role exactly the permissions ROLES grants on `app_label`'s models (idempotent;
    a permission added to a role's group by hand is taken back: define roles here)."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.using(using).filter(content_type__app_label=app_label))
    if not permissions:
        return
    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role)
        actions = role_actions(role=role, app_label=app_label)
        granted = [p for p in permissions if p.codename.split("_", 1)[0] in actions]
        group.permissions.remove(*[p for p in permissions if p not in granted])
        group.permissions.add(*granted)


def roles_on_post_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: auth has just created `sender`'s permissions (its receiver was
    connected first), so set the roles' share of them."""
    roles_sync_permissions(app_label=sender.label, using=using)
