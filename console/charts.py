"""The dashboard's revenue chart: one bar per month, drawn by the usage explorer's server-side
SVG geometry (metering/charts.py) so every chart of the console looks and scales the same."""

from datetime import UTC, datetime

from metering.charts import BarChart, bar_chart
from metering.selectors import UsageBucket


def month_chart(rows, *, currency: str) -> BarChart:
    """Bars of the invoiced totals of `rows` (MonthRevenue, one currency, oldest first)."""
    buckets = [
        UsageBucket(
            datetime(row.month.year, row.month.month, 1, tzinfo=UTC), row.total, row.invoices
        )
        for row in rows
    ]
    return bar_chart(
        buckets,
        bucket="day",
        width=720,
        height=220,
        unit=currency,
        label_format="%b %Y",
        counted="invoices",
    )
