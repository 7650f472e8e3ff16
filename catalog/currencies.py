"""Currencies: ISO 4217 codes and minor units, and money as text.

The minor unit (exponent) of each currency comes from ISO 4217 itself, through the `iso4217`
package, which ships the maintenance agency's published table: IQD 3, HUF 2, JPY 0. CLDR (Babel)
gives display digits that differ for a dozen currencies (IQD 0, HUF 0), so Babel is used only
for names and formatting. The API's form of an amount is `format_money` ("1600.00", "1600" in
JPY); people read `money_display` ("$1,600.00").
"""

from decimal import Decimal
from functools import cache

from babel.numbers import format_currency
from iso4217 import Currency

from rating import round_money

DISPLAY_LOCALE = "en_US"


@cache
def _exponents() -> dict[str, int]:
    """{code: minor unit} of the currencies in ISO 4217 that have one (money people are billed
    in): the funds, precious metals and testing codes without a minor unit are left out."""
    return {
        currency.code: currency.exponent for currency in Currency if currency.exponent is not None
    }


def is_known_currency(code: str) -> bool:
    """True for an upper-case ISO 4217 code of a real money (USD, JPY, BHD); False for XXX, usd."""
    return isinstance(code, str) and code in _exponents()


def currency_exponent(code: str) -> int:
    """The currency's ISO 4217 minor unit: USD 2, EUR 2, JPY 0, BHD 3, IQD 3, HUF 2."""
    if not is_known_currency(code):
        raise ValueError(f"{code!r} is not a known currency code (ISO 4217, e.g. USD).")
    return _exponents()[code]


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit (the rule of every invoice line)."""
    return round_money(amount, exponent=currency_exponent(currency))


def format_money(amount: Decimal, currency: str) -> str:
    """The API's decimal string: rounded half-up to exactly the currency's decimals ("1600.00")."""
    return format(round_to_currency(amount, currency), "f")


def money_display(amount: Decimal, currency: str) -> str:
    """The amount for people, rounded half-up first: "$1,600.00", "¥1,600", "BHD 1.235".

    The digits shown are the ISO minor unit's, not CLDR's (an IQD amount keeps its 3 decimals).
    """
    rounded = round_to_currency(amount, currency)
    exponent = currency_exponent(currency)
    pattern = "¤#,##0" + ("." + "0" * exponent if exponent else "")
    return format_currency(
        rounded, currency, format=pattern, locale=DISPLAY_LOCALE, currency_digits=False
    )


def price_text(amount: Decimal, currency: str) -> str:
    """A unit price as entered, never rounded, with at least the currency's decimals ("0.0012")."""
    significant_places = -min(amount.normalize().as_tuple().exponent, 0)
    places = max(currency_exponent(currency), significant_places)
    return format(amount.quantize(Decimal(1).scaleb(-places)), "f")
