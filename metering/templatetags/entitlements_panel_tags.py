"""{% entitlements_panel customer user as panel %}: the entitlements panel's context, for the
include templates/admin/customers/customer/includes/entitlements.html."""

from django import template
from django.utils import timezone

from metering.admin.entitlements_panel import entitlements_panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def entitlements_panel(context, customer, user) -> dict:
    # The customer 360 page passes its moment (`at`), so every panel shows the same instant.
    return entitlements_panel_context(
        customer=customer, user=user, at=context.get("at") or timezone.now()
    )
