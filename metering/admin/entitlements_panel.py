"""The entitlements panel of the customer page (templates/admin/customers/customer/includes/
entitlements.html): each feature the live subscription grants, with a usage bar when metered."""

from datetime import datetime

from customers.models import Customer
from metering.selectors.entitlements import customer_entitlements
from rating import decimal_string


def entitlements_panel_context(*, customer: Customer, user, at: datetime) -> dict:
    """What the panel shows; nothing when the user may not see the catalog."""
    if not user.has_perm("catalog.view_feature"):
        return {"can_view_entitlements": False, "entitlements": []}
    rows = []
    for entitlement in customer_entitlements(customer=customer, at=at):
        percent = entitlement.percent_used
        rows.append(
            {
                "entitlement": entitlement,
                "usage": None if entitlement.usage is None else decimal_string(entitlement.usage),
                "limit": None if entitlement.limit is None else decimal_string(entitlement.limit),
                "remaining": None
                if entitlement.remaining is None
                else decimal_string(entitlement.remaining),
                "bar_percent": None if percent is None else min(int(percent), 100),
                "percent": None if percent is None else int(percent),
                "over": percent is not None and percent >= 100,
            }
        )
    return {"can_view_entitlements": True, "entitlements": rows}
