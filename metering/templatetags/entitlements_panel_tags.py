"""{% entitlements_panel customer user as panel %}: the entitlements panel's context, for the
include templates/admin/customers/customer/includes/entitlements.html."""

from django import template
from django.utils import timezone

from metering.admin.entitlements_panel import entitlements_panel_context

register = template.Library()


@register.simple_tag
def entitlements_panel(customer, user) -> dict:
    return entitlements_panel_context(customer=customer, user=user, at=timezone.now())
