"""Template filters for catalog pages: plain quantities, prices with the currency's decimals."""

from decimal import Decimal

from django import template

from catalog.currencies import is_known_currency, money_display, price_text
from rating import decimal_string

register = template.Library()


@register.filter
def plain(value: Decimal | None) -> str:
    """1000.000000 → "1000"; None → ""."""
    return "" if value is None else decimal_string(value)


@register.filter
def price(value: Decimal | None, currency: str) -> str:
    """0.800000000000 in USD → "0.80"; None → ""."""
    if value is None:
        return ""
    return price_text(value, currency) if is_known_currency(currency) else decimal_string(value)


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    """An amount for people: 32.000000 in USD → "$32.00" (catalog.currencies.money_display)."""
    if value is None:
        return ""
    return money_display(value, currency) if is_known_currency(currency) else decimal_string(value)
