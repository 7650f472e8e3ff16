"""Tax rates and coupons (docs/operations.md, "Taxes" and "Coupons"): create them, with the
bounds the API documents. What they take off an invoice is computed by invoices."""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.errors import AppError
from catalog.currencies import currency_exponent, is_known_currency, round_to_currency
from catalog.models import Coupon, CouponDuration, CouponKind, Plan, TaxRate

MAX_PERCENTAGE = Decimal("100")
MAX_DURATION_PERIODS = 1200
MAX_FIXED_AMOUNT = Decimal("1000000000")


def _percentage(value: Decimal | None, *, field: str) -> Decimal:
    if value is None or not value.is_finite() or value <= 0 or value > MAX_PERCENTAGE:
        raise AppError({field: ["Must be a percentage above 0 and at most 100."]})
    if value != value.quantize(Decimal("0.0001")):
        raise AppError({field: ["At most 4 decimals."]})
    return value


def tax_rate_create(
    *, name: str, percentage: Decimal, jurisdiction: str = "", active: bool = True
) -> TaxRate:
    """A tax rate: `percentage` % (0 < p ≤ 100, 4 decimals) under a name and jurisdiction."""
    if not name.strip():
        raise AppError({"name": ["Give a name."]})
    return TaxRate.objects.create(
        name=name.strip(),
        percentage=_percentage(percentage, field="percentage"),
        jurisdiction=jurisdiction.strip(),
        active=active,
    )


def coupon_create(
    *,
    code: str,
    name: str,
    kind: str,
    duration: str,
    amount: Decimal | None = None,
    currency: str = "",
    percentage: Decimal | None = None,
    duration_periods: int | None = None,
    expires_at: datetime | None = None,
    max_redemptions: int | None = None,
    plans: list[str] | None = None,
) -> Coupon:
    """A coupon; `plans` are plan codes (every version of each). Refusals are 400, a code in
    use 409."""
    if kind == CouponKind.FIXED:
        currency = (currency or "").upper()
        if not is_known_currency(currency):
            raise AppError({"currency": ["A fixed coupon needs a known ISO 4217 currency."]})
        if amount is None or not amount.is_finite() or not 0 < amount <= MAX_FIXED_AMOUNT:
            raise AppError({"amount": ["A fixed coupon needs an amount above 0."]})
        if round_to_currency(amount, currency) != amount:
            raise AppError(
                {
                    "amount": [
                        f"{currency} amounts have at most {currency_exponent(currency)} decimals."
                    ]
                }
            )
        if percentage is not None:
            raise AppError({"percentage": ["A fixed coupon has no percentage."]})
    elif kind == CouponKind.PERCENTAGE:
        percentage = _percentage(percentage, field="percentage")
        if amount is not None or currency:
            raise AppError({"amount": ["A percentage coupon has no amount or currency."]})
        currency = ""
    else:
        raise AppError({"kind": [f"Must be one of {', '.join(CouponKind.values)}."]})
    if duration == CouponDuration.REPEATING:
        if duration_periods is None or not 1 <= duration_periods <= MAX_DURATION_PERIODS:
            raise AppError(
                {"duration_periods": [f"A repeating coupon needs 1 to {MAX_DURATION_PERIODS}."]}
            )
    elif duration in CouponDuration.values:
        if duration_periods is not None:
            raise AppError({"duration_periods": ["Only a repeating coupon has periods."]})
    else:
        raise AppError({"duration": [f"Must be one of {', '.join(CouponDuration.values)}."]})
    if max_redemptions is not None and max_redemptions < 1:
        raise AppError({"max_redemptions": ["At least 1."]})
    plan_rows = []
    for plan_code in plans or []:
        found = list(Plan.objects.filter(code=plan_code))
        if not found:
            raise AppError({"plans": [f"Unknown plan '{plan_code}'."]})
        plan_rows += found
    try:
        with transaction.atomic():
            coupon = Coupon.objects.create(
                code=code,
                name=name or code,
                kind=kind,
                amount=amount if kind == CouponKind.FIXED else None,
                currency=currency,
                percentage=percentage if kind == CouponKind.PERCENTAGE else None,
                duration=duration,
                duration_periods=duration_periods,
                expires_at=expires_at,
                max_redemptions=max_redemptions,
            )
            coupon.plans.set(plan_rows)
    except IntegrityError:
        raise AppError.conflict(f"A coupon with code '{code}' exists already.") from None
    return coupon
