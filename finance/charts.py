"""The revenue report's chart, drawn server-side as SVG (no script, no CDN): per month, a bar
for revenue billed and one for revenue recognised, and the deferred balance as a line.
Geometry here, drawing in the template (admin/finance/revenue_report.html)."""

from dataclasses import dataclass
from decimal import Decimal

from catalog.currencies import money_display
from finance.selectors import CurrencyRevenue

WIDTH, HEIGHT, LEFT, TOP, BOTTOM_MARGIN = 960, 300, 90, 12, 34


@dataclass(frozen=True, slots=True)
class Rect:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    kind: str  # billed | recognised
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    position: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class RevenueChart:
    currency: str
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    zero_y: Decimal
    rects: list[Rect]
    deferred_points: str  # an SVG polyline's points
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def revenue_chart(revenue: CurrencyRevenue) -> RevenueChart:
    """Scaled to the largest figure (a credit larger than the month's billing draws below
    zero)."""
    currency, months = revenue.currency, revenue.months
    values = [v for m in months for v in (m.billed, m.recognised, m.deferred)]
    high = max([Decimal(0), *values])
    low = min([Decimal(0), *values])
    span = (high - low) or Decimal(1)
    bottom = HEIGHT - BOTTOM_MARGIN
    plot_height = Decimal(bottom - TOP)
    slot = Decimal(WIDTH - LEFT - 10) / max(len(months), 1)
    bar = slot * Decimal("0.36")

    def y_of(value: Decimal) -> Decimal:
        return round(TOP + plot_height * (high - value) / span, 2)

    zero_y = y_of(Decimal(0))
    rects, points, x_ticks = [], [], []
    for position, month in enumerate(months):
        left = LEFT + slot * position + slot * Decimal("0.12")
        label = month.month.strftime("%b %Y")
        for offset, kind, value in (
            (0, "billed", month.billed),
            (1, "recognised", month.recognised),
        ):
            top, base = sorted((y_of(value), zero_y))
            rects.append(
                Rect(
                    x=round(left + bar * offset, 2),
                    y=top,
                    width=round(bar, 2),
                    height=round(base - top, 2),
                    kind=kind,
                    title=f"{label}: {kind} {money_display(value, currency)}",
                )
            )
        center = round(LEFT + slot * position + slot / 2, 2)
        points.append(f"{center},{y_of(month.deferred)}")
        x_ticks.append(Tick(center, month.month.strftime("%b %y")))
    every = max(1, -(-len(x_ticks) // 12))
    y_ticks = [
        Tick(y_of(low + span * step / 4), money_display(low + span * step / 4, currency))
        for step in range(5)
    ]
    return RevenueChart(
        currency=currency,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_bottom=bottom,
        zero_y=zero_y,
        rects=rects,
        deferred_points=" ".join(points),
        y_ticks=y_ticks,
        x_ticks=x_ticks[::every],
    )
