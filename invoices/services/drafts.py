"""Invoices in memory: the lines and totals the cycle close saves and the preview shows as is.

Money rules (docs/architecture.md, "Money"): each line is rounded once, half-up, to the
currency's minor unit; subtotal = Σ rounded lines; discount = Σ coupon shares
(invoices.services.adjustments), spread over the lines pro rata (each line's `discount`);
tax = Σ per rate round_half_up((subtotal − discount) × rate); total = subtotal − discount + tax;
credits_applied 0 until finalization applies wallet credits; amount_due =
max(total − credits_applied, 0). A negative total (a proration credit larger than the
charges) is kept: nothing is due then.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from catalog.currencies import currency_exponent
from catalog.models import Charge, Meter, Plan
from customers.models import Customer, Subscription
from invoices.models import InvoiceStatus
from invoices.services.adjustments import coupon_shares, invoice_tax_rates, taxes_for
from rating.adjustments import spread_pro_rata

ZERO = Decimal("0")
# Fractions and quantities are stored with six decimals (catalog.models.QUANTITY).
QUANTITY_STEP = Decimal("0.000001")


@dataclass
class DraftLine:
    """One invoice line before it is saved; `amount` is already rounded to the currency."""

    kind: str
    description: str
    amount: Decimal
    quantity: Decimal = ZERO
    unit_amount: Decimal | None = None
    plan: Plan | None = None
    charge: Charge | None = None
    meter: Meter | None = None
    breakdown: dict = field(default_factory=dict)
    usage_start: datetime | None = None
    usage_end: datetime | None = None
    # What the charge ledger says this line bills (usage lines only): the slice's price so far
    # (invoices.services.ledger.Owed) and what was billed of it before.
    owed: object | None = None
    before: object | None = None
    # An unsaved line has no id; the API shows null for it (the preview).
    id: int | None = None
    position: int = 0
    # This line's share of the invoice's coupon discount (set by draft_make).
    discount: Decimal = ZERO


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    credits_applied: Decimal
    amount_due: Decimal
    # Per rate ([TaxShare]), per coupon ([CouponShare]), per line (aligned with the lines).
    taxes: tuple = ()
    coupons: tuple = ()
    line_discounts: tuple = ()
    tax_exempt_reason: str = ""

    @property
    def taxes_json(self) -> list[dict]:
        return [share.as_json() for share in self.taxes]

    @property
    def coupons_json(self) -> list[dict]:
        return [
            {"code": share.code, "name": share.name, "amount": str(share.amount)}
            for share in self.coupons
        ]


@dataclass
class InvoiceDraft:
    """An invoice as the builder computed it: what the close saves and the preview returns."""

    customer: Customer
    subscription: Subscription | None
    kind: str
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    lines: list[DraftLine]
    totals: Totals
    # The shape of a saved Invoice, for the serializers: unsaved, unnumbered, not issued.
    id: None = None
    number: None = None
    status: str = InvoiceStatus.DRAFT
    issued_at: None = None
    due_date: None = None
    grace_until: None = None
    verified_at: None = None

    @property
    def subtotal(self) -> Decimal:
        return self.totals.subtotal

    @property
    def discount(self) -> Decimal:
        return self.totals.discount

    @property
    def tax(self) -> Decimal:
        return self.totals.tax

    @property
    def total(self) -> Decimal:
        return self.totals.total

    @property
    def credits_applied(self) -> Decimal:
        return self.totals.credits_applied

    @property
    def amount_due(self) -> Decimal:
        return self.totals.amount_due

    @property
    def taxes(self) -> list[dict]:
        return self.totals.taxes_json

    @property
    def coupons(self) -> list[dict]:
        return self.totals.coupons_json

    @property
    def tax_exempt_reason(self) -> str:
        return self.totals.tax_exempt_reason

    amount_credited = ZERO


def draft_totals(
    *,
    lines: list,
    customer: Customer,
    currency: str,
    subscription: Subscription | None = None,
    kind: str = "",
    invoice_id: int | None = None,
) -> Totals:
    """The invoice totals from its rounded lines (see the module docstring for the rules).

    subscription and kind decide the coupons and the plan's taxes; invoice_id is a draft being
    refreshed (its own coupon use is not counted as used before).
    """
    exponent = currency_exponent(currency)
    subtotal = sum((line.amount for line in lines), ZERO)
    coupons = coupon_shares(
        customer=customer,
        subscription=subscription,
        kind=kind,
        currency=currency,
        base=subtotal,
        exponent=exponent,
        invoice_id=invoice_id,
    )
    discount = sum((share.amount for share in coupons), ZERO)
    line_discounts = spread_pro_rata(discount, [line.amount for line in lines], exponent=exponent)
    taxable = max(subtotal - discount, ZERO)
    rates = invoice_tax_rates(customer=customer, subscription=subscription)
    taxes = taxes_for(taxable=taxable, rates=rates, exponent=exponent)
    tax = sum((share.amount for share in taxes), ZERO)
    total = subtotal - discount + tax
    credits_applied = ZERO
    amount_due = max(total - credits_applied, ZERO)
    return Totals(
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        total=total,
        credits_applied=credits_applied,
        amount_due=amount_due,
        taxes=tuple(taxes),
        coupons=tuple(coupons),
        line_discounts=tuple(line_discounts),
        tax_exempt_reason=customer.tax_exempt_reason if customer.tax_exempt else "",
    )


def draft_make(
    *,
    subscription: Subscription,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    lines: list[DraftLine],
) -> InvoiceDraft:
    """An InvoiceDraft for the subscription's customer, in its plan's currency, lines numbered."""
    currency = subscription.plan.currency
    for position, line in enumerate(lines):
        line.position = position
    totals = draft_totals(
        lines=lines,
        customer=subscription.customer,
        currency=currency,
        subscription=subscription,
        kind=kind,
    )
    for line, discount in zip(lines, totals.line_discounts, strict=True):
        line.discount = discount
    return InvoiceDraft(
        customer=subscription.customer,
        subscription=subscription,
        kind=kind,
        currency=currency,
        period_start=period_start,
        period_end=period_end,
        lines=lines,
        totals=totals,
    )


def quantity_text(value: Decimal) -> Decimal:
    """A fraction or quantity as stored: six decimals, half-up."""
    return value.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)


def window_text(start: datetime, end: datetime) -> str:
    """A half-open window as people read it: "Mar 1 – Mar 31, 2026" for whole days, else times.

    Whole-day windows show their last day (the end is exclusive); others show UTC times.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    if start == start.replace(**midnight) and end == end.replace(**midnight) and end > start:
        last = end - timedelta(days=1)
        if last == start:
            return _day(start, with_year=True)
        return f"{_day(start, with_year=start.year != last.year)} – {_day(last, with_year=True)}"
    if start.date() == end.date():
        return f"{_day(start, with_year=True)} {start:%H:%M}–{end:%H:%M} UTC"
    return (
        f"{_day(start, with_year=True)} {start:%H:%M} – {_day(end, with_year=True)} {end:%H:%M} UTC"
    )


def _day(moment: datetime, *, with_year: bool) -> str:
    text = f"{moment:%b} {moment.day}"
    return f"{text}, {moment.year}" if with_year else text
