"""Coupons and taxes of an invoice being computed (docs/architecture.md, "Money").

- Coupons apply to subscription invoices only, in the order they were given to the customer, to
  the subtotal left after the previous ones (never below zero). A percentage coupon takes its
  share, rounded half-up; a fixed one its amount in its own currency (other currencies: none),
  at most what is left. `once` applies to one invoice, except that a fixed amount larger than
  that invoice carries its rest forward to the next ones; `repeating` applies to N invoices;
  `forever` to all. What a coupon already took is read from its InvoiceDiscount rows on
  invoices that are not void, so voiding an invoice gives its discount back.
- Taxes: the customer's tax rates when it has any, else the plan's; none for an exempt customer
  (its reason is printed on the invoice). Each rate is applied to subtotal − discount and
  rounded half-up on its own.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum

from catalog.models import CouponDuration, CouponKind, TaxRate
from customers.models import AppliedCoupon, Customer, Subscription
from invoices.models import InvoiceDiscount, InvoiceKind, InvoiceStatus
from rating.adjustments import percentage_of

ZERO = Decimal("0")


@dataclass(frozen=True)
class CouponShare:
    applied_coupon_id: int
    code: str
    name: str
    amount: Decimal


@dataclass(frozen=True)
class TaxShare:
    name: str
    rate: Decimal
    jurisdiction: str
    amount: Decimal

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "rate": f"{self.rate.normalize():f}",
            "jurisdiction": self.jurisdiction,
            "amount": str(self.amount),
        }


def invoice_tax_rates(*, customer: Customer, subscription: Subscription | None) -> list[TaxRate]:
    """The rates an invoice of this customer gets: its own, else its plan's (none if exempt)."""
    if customer.tax_exempt or not customer.pk:
        return []
    # .all(): the close prefetches both (invoices.services.cycles), the preview reads them.
    rates = _active(customer.tax_rates.all())
    if not rates and subscription is not None:
        rates = _active(subscription.plan.tax_rates.all())
    return rates


def _active(rates) -> list[TaxRate]:
    return sorted((rate for rate in rates if rate.active), key=lambda rate: (rate.name, rate.pk))


def taxes_for(*, taxable: Decimal, rates: list[TaxRate], exponent: int) -> list[TaxShare]:
    return [
        TaxShare(
            name=rate.name,
            rate=rate.percentage,
            jurisdiction=rate.jurisdiction,
            amount=percentage_of(max(taxable, ZERO), rate.percentage, exponent=exponent),
        )
        for rate in rates
    ]


def _coupon_fits(applied: AppliedCoupon, subscription: Subscription, currency: str) -> bool:
    coupon = applied.coupon
    if not coupon.active:
        return False
    if coupon.kind == CouponKind.FIXED and coupon.currency != currency:
        return False
    plan_codes = {plan.code for plan in coupon.plans.all()}
    return not plan_codes or subscription.plan.code in plan_codes


def coupon_shares(
    *,
    customer: Customer,
    subscription: Subscription | None,
    kind: str,
    currency: str,
    base: Decimal,
    exponent: int,
    invoice_id: int | None = None,
) -> list[CouponShare]:
    """What each of the customer's coupons takes off an invoice whose subtotal is `base`.

    invoice_id: a draft being refreshed (its own discounts are left out of what was used).
    """
    if kind != InvoiceKind.SUBSCRIPTION or subscription is None or not customer.pk:
        return []
    # The close prefetches the customer's coupons: most customers have none, and cost nothing.
    if not any(one.removed_at is None for one in customer.coupons.all()):
        return []
    applied = list(
        AppliedCoupon.objects.filter(customer=customer, removed_at=None)
        .select_related("coupon")
        .prefetch_related("coupon__plans")
        .order_by("applied_at", "id")
    )
    if not applied:
        return []
    used = {
        row["applied_coupon_id"]: row
        for row in InvoiceDiscount.objects.filter(applied_coupon__in=applied)
        .exclude(invoice__status=InvoiceStatus.VOID)
        .exclude(invoice_id=invoice_id)
        .values("applied_coupon_id")
        .annotate(taken=Sum("amount"), invoices=Count("id"))
    }
    shares, left = [], max(base, ZERO)
    for one in applied:
        if not _coupon_fits(one, subscription, currency):
            continue
        coupon = one.coupon
        taken = used.get(one.pk, {}).get("taken") or ZERO
        invoices = used.get(one.pk, {}).get("invoices") or 0
        if coupon.kind == CouponKind.FIXED and coupon.duration == CouponDuration.ONCE:
            amount = min(coupon.amount - taken, left)  # the rest carries forward
        elif coupon.duration == CouponDuration.ONCE and invoices >= 1:
            continue
        elif coupon.duration == CouponDuration.REPEATING and invoices >= coupon.duration_periods:
            continue
        elif coupon.kind == CouponKind.FIXED:
            amount = min(coupon.amount, left)
        else:
            amount = percentage_of(left, coupon.percentage, exponent=exponent)
        if coupon.kind == CouponKind.FIXED and coupon.duration == CouponDuration.ONCE:
            if coupon.amount - taken <= ZERO:
                continue
        amount = max(amount, ZERO)
        shares.append(CouponShare(one.pk, coupon.code, coupon.name, amount))
        left -= amount
    return shares
