"""Template filters of the backtest report: money at the currency's minor unit."""

from django import template

from lab.selectors import money as money_string

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    return money_string(amount, currency)


@register.filter
def signed_class(amount) -> str:
    """ "more" when the customer would pay more on the draft, "less" when less."""
    return "more" if amount > 0 else "less" if amount < 0 else ""
