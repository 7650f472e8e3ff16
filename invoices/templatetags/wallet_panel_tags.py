"""{% wallet_panel customer user as wallet_panel %}: the wallet panel's context, for the include
templates/admin/customers/customer/includes/wallet.html (any customer page can include it)."""

from django import template
from django.utils import timezone

from invoices.admin.wallet_panel import wallet_panel_context

register = template.Library()


@register.simple_tag
def wallet_panel(customer, user) -> dict:
    return wallet_panel_context(customer=customer, user=user, at=timezone.now())
