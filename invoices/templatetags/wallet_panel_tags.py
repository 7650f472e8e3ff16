"""{% wallet_panel customer user as wallet_panel %}: the wallet panel's context, for the include
templates/admin/customers/customer/includes/wallet.html (any customer page can include it)."""

from django import template
from django.utils import timezone

from invoices.admin.wallet_panel import wallet_panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def wallet_panel(context, customer, user) -> dict:
    # The customer 360 page passes its moment (`at`), so every panel shows the same instant.
    return wallet_panel_context(
        customer=customer, user=user, at=context.get("at") or timezone.now()
    )
