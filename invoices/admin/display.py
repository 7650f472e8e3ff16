"""Invoice lines as the admin shows them: money in the currency, tiers readable, event links."""

from dataclasses import dataclass
from decimal import Decimal

from catalog.currencies import money_display
from invoices.models import LineKind
from invoices.services.drafts import window_text
from metering.links import event_drilldown_url
from rating import to_decimal
from rating.money import decimal_string


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    units: str
    amount: str


@dataclass(frozen=True)
class LineRow:
    description: str
    kind: str
    meter: str
    quantity: str
    unit_amount: str
    amount: str
    window: str
    breakdown: list[BreakdownRow]
    events_url: str | None


def _breakdown_rows(line, currency: str) -> list[BreakdownRow]:
    breakdown = line.breakdown or {}
    rows = [
        BreakdownRow(
            label=row["label"],
            units=row["units"],
            amount=money_display(to_decimal(row["amount"]), currency),
        )
        for row in breakdown.get("breakdown", [])
    ]
    if "fraction" in breakdown:
        share = to_decimal(breakdown["fraction"]) * 100
        rows.append(
            BreakdownRow(
                label=f"{share.quantize(to_decimal('0.01'))}% of the full period",
                units="",
                amount=money_display(to_decimal(breakdown["exact_amount"]), currency),
            )
        )
    if breakdown.get("billed_before", "0") != "0":
        rows.append(
            BreakdownRow(
                label=f"The period owes {money_display(to_decimal(breakdown['owed']), currency)} "
                f"for usage {breakdown['cumulative_after']} since "
                f"{breakdown['window_start'][:16].replace('T', ' ')}; billed before "
                f"(usage {breakdown['cumulative_before']})",
                units="",
                amount=money_display(-to_decimal(breakdown["billed_before"]), currency),
            )
        )
    return rows


def line_rows(
    lines, *, currency: str, external_customer_id: str, period: tuple | None = None
) -> list[LineRow]:
    """One LineRow per line (saved InvoiceLines or a draft's DraftLines). A line's window is
    shown only where it differs from the invoice's `period` (start, end): not repeated."""
    rows = []
    for line in lines:
        usage = line.kind == LineKind.USAGE and line.meter is not None and line.usage_start
        window = ""
        if line.usage_start and line.usage_end and (line.usage_start, line.usage_end) != period:
            window = window_text(line.usage_start, line.usage_end)
        rows.append(
            LineRow(
                description=line.description,
                kind=LineKind(line.kind).label,
                meter=line.meter.code if line.meter is not None else "",
                quantity=decimal_string(to_decimal(line.quantity)),
                unit_amount="" if line.unit_amount is None else decimal_string(line.unit_amount),
                amount=money_display(line.amount, currency),
                window=window,
                breakdown=_breakdown_rows(line, currency),
                events_url=event_drilldown_url(
                    meter=line.meter,
                    external_customer_id=external_customer_id,
                    start=line.usage_start,
                    end=line.usage_end,
                )
                if usage
                else None,
            )
        )
    return rows


def totals_rows(invoice) -> list[tuple[str, str]]:
    currency = invoice.currency
    taxes = [
        (f"{tax['name']} ({tax['rate']} %)", money_display(Decimal(tax["amount"]), currency))
        for tax in invoice.taxes or []
    ]
    coupons = [
        (f"Coupon {coupon['code']}", "−" + money_display(Decimal(coupon["amount"]), currency))
        for coupon in invoice.coupons or []
    ]
    exempt = [("Tax exempt", invoice.tax_exempt_reason)] if invoice.tax_exempt_reason else []
    credited = getattr(invoice, "amount_credited", 0)
    return [
        ("Subtotal", money_display(invoice.subtotal, currency)),
        ("Discount", money_display(invoice.discount, currency)),
        *coupons,
        ("Tax", money_display(invoice.tax, currency)),
        *taxes,
        *exempt,
        ("Total", money_display(invoice.total, currency)),
        ("Credits applied", money_display(invoice.credits_applied, currency)),
        ("Amount due", money_display(invoice.amount_due, currency)),
        *([("Credited by credit notes", money_display(credited, currency))] if credited else []),
    ]
