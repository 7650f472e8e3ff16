"""Currencies: ISO 4217 codes and minor units (from Babel's CLDR data), and money as text.

The API's form of an amount is `format_money` ("1600.00", "1600" in JPY); people read
`money_display` ("$1,600.00").
"""

from decimal import Decimal
from functools import cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

from rating import round_money

# ISO 4217 X-codes that name no money anyone is billed in: the "no currency" and testing codes,
# precious metals, and the bond-market and accounting units (plus CLDR's obsolete X-units).
NOT_MONEY = frozenset(
    {
        "XXX",
        "XTS",
        "XAU",
        "XAG",
        "XPT",
        "XPD",
        "XDR",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XSU",
        "XUA",
        "XEU",
        "XFO",
        "XFU",
        "XRE",
    }
)

DISPLAY_LOCALE = "en_US"


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if code not in NOT_MONEY)


def is_known_currency(code: str) -> bool:
    """True for an upper-case ISO 4217 code of a real money (USD, JPY, BHD); False for XXX, usd."""
    return isinstance(code, str) and code in _known_currencies()


def currency_exponent(code: str) -> int:
    """The currency's ISO 4217 minor unit: USD 2, EUR 2, JPY 0, BHD 3."""
    if not is_known_currency(code):
        raise ValueError(f"{code!r} is not a known currency code (ISO 4217, e.g. USD).")
    return get_currency_precision(code)


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit (the rule of every invoice line)."""
    return round_money(amount, exponent=currency_exponent(currency))


def format_money(amount: Decimal, currency: str) -> str:
    """The API's decimal string: rounded half-up to exactly the currency's decimals ("1600.00")."""
    return format(round_to_currency(amount, currency), "f")


def money_display(amount: Decimal, currency: str) -> str:
    """The amount for people, rounded half-up first: "$1,600.00", "¥1,600", "BHD 1.235"."""
    rounded = round_to_currency(amount, currency)
    return format_currency(rounded, currency, locale=DISPLAY_LOCALE)


def price_text(amount: Decimal, currency: str) -> str:
    """A unit price as entered, never rounded, with at least the currency's decimals ("0.0012")."""
    significant_places = -min(amount.normalize().as_tuple().exponent, 0)
    places = max(currency_exponent(currency), significant_places)
    return format(amount.quantize(Decimal(1).scaleb(-places)), "f")
