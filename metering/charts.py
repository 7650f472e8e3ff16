"""Server-side SVG bar charts for the usage explorer: geometry here, drawing in the template."""

from dataclasses import dataclass
from decimal import Decimal

from metering.selectors.usage import UsageBucket
from rating.money import decimal_string


@dataclass(frozen=True)
class Bar:
    x: float
    y: Decimal  # heights are the quantities' exact shares of the plot (Decimal, as everywhere)
    width: float
    height: Decimal
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def bar_chart(
    buckets: list[UsageBucket],
    *,
    bucket: str,
    width: int = 960,
    height: int = 280,
    unit: str = "",
    label_format: str = "",
    counted: str = "events",
) -> BarChart:
    """One bar per bucket scaled to the largest; 4 value ticks; at most ~12 time labels.

    `label_format` (strftime) names the buckets (default: by `bucket`); `counted` names what
    a bucket's count counts in the bars' titles."""
    left, top, bottom = 70, 10, height - 30
    plot_width, plot_height = width - left - 10, bottom - top
    largest = max((item.quantity for item in buckets), default=Decimal("0"))
    scale = largest if largest > 0 else Decimal("1")
    slot = plot_width / max(len(buckets), 1)
    gap = min(2.0, slot * 0.2)
    label_format = label_format or ("%b %d %H:00" if bucket == "hour" else "%b %d")
    bars = []
    for position, item in enumerate(buckets):
        bar_height = plot_height * item.quantity / scale if item.quantity > 0 else Decimal("0")
        bars.append(
            Bar(
                x=round(left + position * slot + gap / 2, 2),
                y=round(bottom - bar_height, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(bar_height, 2),
                title=(
                    f"{item.start.strftime(label_format)} UTC: {decimal_string(item.quantity)}"
                    f"{' ' + unit if unit else ''} ({item.event_count} {counted})"
                ),
            )
        )
    y_ticks = [
        Tick(round(bottom - plot_height * step / 4, 2), _tick_label(scale * step / 4))
        for step in range(5)
    ]
    every = max(1, -(-len(buckets) // 12))
    x_ticks = [
        Tick(round(left + position * slot + slot / 2, 2), item.start.strftime(label_format))
        for position, item in enumerate(buckets)
        if position % every == 0
    ]
    return BarChart(width, height, left, bottom, bars, y_ticks, x_ticks)


def _tick_label(value: Decimal) -> str:
    """A short axis label: 1,600 · 2.19 · 0.000125."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return decimal_string(value.quantize(Decimal("0.01")))
    return decimal_string(value.quantize(Decimal("0.000001")))
