"""The console's navigation, in the order of the flow (docs/operations.md, "The console").

The one place that lists the sections and their pages: a section or a page added later (the
Finance reports) is one line here. A page shows for a user who has `permission` (or for every
staff user when it is empty); a section without a visible page is hidden.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    permission: str = ""
    query: str = ""


NAVIGATION: list[tuple[str, list[NavLink]]] = [
    (
        "Catalog",
        [
            NavLink("Meters", "admin:catalog_meter_changelist", "catalog.view_meter"),
            NavLink("Plans", "admin:catalog_plan_changelist", "catalog.view_plan"),
            NavLink("Features", "admin:catalog_feature_changelist", "catalog.view_feature"),
            NavLink("Tax rates", "admin:catalog_taxrate_changelist", "catalog.view_taxrate"),
            NavLink("Coupons", "admin:catalog_coupon_changelist", "catalog.view_coupon"),
        ],
    ),
    (
        "Customers",
        [
            NavLink("Customers", "admin:customers_customer_changelist", "customers.view_customer"),
            NavLink(
                "Subscriptions",
                "admin:customers_subscription_changelist",
                "customers.view_subscription",
            ),
            NavLink("Wallets", "admin:customers_wallet_changelist", "customers.view_wallet"),
        ],
    ),
    (
        "Usage",
        [
            NavLink("Usage by customer", "admin:console_usage", "metering.view_event"),
            NavLink("Usage explorer", "admin:metering_event_explorer", "metering.view_event"),
            NavLink("Events", "admin:metering_event_changelist", "metering.view_event"),
        ],
    ),
    (
        "Invoices",
        [
            NavLink("Invoices", "admin:invoices_invoice_changelist", "invoices.view_invoice"),
            NavLink(
                "Drafts",
                "admin:invoices_invoice_changelist",
                "invoices.view_invoice",
                "status__exact=draft",
            ),
            NavLink(
                "Credit notes", "admin:invoices_creditnote_changelist", "invoices.view_creditnote"
            ),
        ],
    ),
    (
        "Payments",
        [
            NavLink("Payments", "admin:payments_payment_changelist", "payments.view_payment"),
            NavLink("Overdue", "admin:payments_overdueinvoice_changelist", "payments.view_payment"),
            NavLink(
                "Failed payments",
                "admin:payments_payment_changelist",
                "payments.view_payment",
                "status__exact=failed",
            ),
        ],
    ),
    (
        "Finance",
        [
            NavLink(
                "Revenue", "admin:finance_revenuereport_changelist", "finance.view_revenuereport"
            ),
            NavLink(
                "Receivables aging",
                "admin:finance_receivablesaging_changelist",
                "finance.view_receivablesaging",
            ),
            NavLink(
                "Exports", "admin:finance_financeexport_changelist", "finance.view_financeexport"
            ),
            NavLink("Audit log", "admin:auditlog_logentry_changelist", "auditlog.view_logentry"),
            NavLink("Backtests", "admin:lab_backtest_changelist", "lab.view_backtest"),
        ],
    ),
    (
        "Settings",
        [
            NavLink("API keys", "admin:billing_apikey_changelist", "billing.view_apikey"),
            NavLink(
                "Webhooks",
                "admin:notifications_webhookendpoint_changelist",
                "notifications.view_webhookendpoint",
            ),
            NavLink(
                "Email templates",
                "admin:notifications_emailtemplate_changelist",
                "notifications.view_emailtemplate",
            ),
            NavLink("Users", "admin:auth_user_changelist", "auth.view_user"),
        ],
    ),
]


@dataclass(frozen=True)
class VisibleLink:
    label: str
    url: str
    active: bool


def navigation_for(*, user, path: str) -> list[tuple[str, list[VisibleLink]]]:
    """The sections and links `user` may open; the link whose page `path` is in is active."""
    sections = []
    for title, links in NAVIGATION:
        visible = []
        for link in links:
            if link.permission and not user.has_perm(link.permission):
                continue
            try:
                url = reverse(link.url_name)
            except NoReverseMatch:  # an app not installed
                continue
            visible.append(
                VisibleLink(
                    link.label,
                    f"{url}?{link.query}" if link.query else url,
                    active=not link.query and path.startswith(url),
                )
            )
        if visible:
            sections.append((title, visible))
    return sections
