"""Coupons given to customers (docs/operations.md, "Coupons"): apply once per customer, within
the coupon's expiry, redemption limit and currency; remove."""

from datetime import datetime

from django.db import transaction

from billing.errors import AppError
from catalog.models import Coupon, CouponKind
from customers.models import AppliedCoupon, Customer


def customer_coupon_apply(*, customer: Customer, coupon: Coupon, at: datetime) -> AppliedCoupon:
    """Give `coupon` to the customer from `at` on. Applying it again returns the same row."""
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().get(pk=coupon.pk)
        found = AppliedCoupon.objects.filter(customer=customer, coupon=coupon).first()
        if found is not None:
            if found.removed_at is not None:
                raise AppError.conflict(
                    f"Coupon '{coupon.code}' was removed from this customer; it is given once."
                )
            return found
        if not coupon.active:
            raise AppError.conflict(f"Coupon '{coupon.code}' is not active.")
        if coupon.expires_at is not None and coupon.expires_at <= at:
            raise AppError.conflict(
                f"Coupon '{coupon.code}' expired on {coupon.expires_at:%Y-%m-%d}."
            )
        if coupon.max_redemptions is not None:
            given = AppliedCoupon.objects.filter(coupon=coupon).count()
            if given >= coupon.max_redemptions:
                raise AppError.conflict(
                    f"Coupon '{coupon.code}' reached its limit of {coupon.max_redemptions} "
                    "redemptions."
                )
        if (
            coupon.kind == CouponKind.FIXED
            and customer.currency
            and customer.currency != coupon.currency
        ):
            raise AppError(
                {
                    "coupon": [
                        f"Coupon '{coupon.code}' is in {coupon.currency}; the customer is billed "
                        f"in {customer.currency}."
                    ]
                }
            )
        return AppliedCoupon.objects.create(customer=customer, coupon=coupon, applied_at=at)


def customer_coupon_remove(*, applied: AppliedCoupon, at: datetime) -> AppliedCoupon:
    """Stop the coupon for the customer's next invoices (what it took stays taken)."""
    if applied.removed_at is None:
        applied.removed_at = at
        applied.save(update_fields=["removed_at", "updated_at"])
    return applied
