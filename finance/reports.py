"""The revenue report and the receivables aging as rows (CSV) and as JSON (the API): one shape
for the admin's downloads and the endpoints. Money as decimal strings at the currency's minor
unit, one currency per row."""

from catalog.currencies import format_money
from finance.selectors import AGING_BUCKETS, AgingReport, AgingRow, CurrencyRevenue

REVENUE_FIGURES = ("billed", "recognised", "deferred", "unbilled")


def revenue_csv_rows(report: list[CurrencyRevenue]):
    yield ["month", "currency", *REVENUE_FIGURES]
    for revenue in report:
        for month in revenue.months:
            yield [
                f"{month.month:%Y-%m}",
                revenue.currency,
                *(format_money(getattr(month, name), revenue.currency) for name in REVENUE_FIGURES),
            ]


def revenue_as_dict(report: list[CurrencyRevenue], *, first, last) -> dict:
    return {
        "from": f"{first:%Y-%m}",
        "to": f"{last:%Y-%m}",
        "currencies": [
            {
                "currency": revenue.currency,
                "billed": format_money(revenue.billed, revenue.currency),
                "recognised": format_money(revenue.recognised, revenue.currency),
                "months": [
                    {
                        "month": f"{month.month:%Y-%m}",
                        **{
                            name: format_money(getattr(month, name), revenue.currency)
                            for name in REVENUE_FIGURES
                        },
                    }
                    for month in revenue.months
                ],
            }
            for revenue in report
        ],
    }


def aging_csv_rows(report: AgingReport):
    yield ["customer", "customer_name", "currency", *(key for key, _, _ in AGING_BUCKETS), "total"]
    for row in [*report.rows, *report.totals]:
        yield [row.customer, row.customer_name, row.currency, *_aging_amounts(row).values()]


def aging_as_dict(report: AgingReport) -> dict:
    def shape(row: AgingRow) -> dict:
        return {"currency": row.currency, "invoices": row.invoices, **_aging_amounts(row)}

    return {
        "as_of": report.as_of.isoformat(),
        "customers": [
            {"customer": row.customer, "name": row.customer_name, **shape(row)}
            for row in report.rows
        ],
        "totals": [shape(row) for row in report.totals],
    }


def _aging_amounts(row: AgingRow) -> dict[str, str]:
    amounts = {key: format_money(row.buckets[key], row.currency) for key, _, _ in AGING_BUCKETS}
    return {**amounts, "total": format_money(row.total, row.currency)}
