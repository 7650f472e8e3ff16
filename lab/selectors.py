"""Reads over backtests: the report (totals, rows, movers, per-charge movement, histogram) and
its CSV, shared by the API and the admin page (docs/operations.md, "Pricing lab")."""

from dataclasses import dataclass
from decimal import Decimal

from catalog.currencies import currency_exponent
from lab.models import Backtest, BacktestRow, percent_of
from rating import round_money

ZERO = Decimal("0")
MOVERS = 10
HISTOGRAM_BINS = 10


def money(amount: Decimal, currency: str) -> str:
    """An amount as the API shows money: a decimal string at the currency's minor unit."""
    return str(round_money(Decimal(amount), exponent=currency_exponent(currency)))


def backtest_get(*, backtest_id: int) -> Backtest:
    """One backtest with its plan; raises Backtest.DoesNotExist."""
    return Backtest.objects.select_related("plan", "created_by").get(pk=backtest_id)


def backtest_rows(*, backtest: Backtest) -> list[BacktestRow]:
    """The per-customer rows, by customer external id."""
    return list(
        backtest.rows.select_related("customer").order_by("customer__external_id", "customer_id")
    )


@dataclass(frozen=True)
class ChargeMove:
    key: str
    label: str
    billed: Decimal
    would_be: Decimal

    @property
    def difference(self) -> Decimal:
        return self.would_be - self.billed


@dataclass(frozen=True)
class Bar:
    low: Decimal
    high: Decimal
    count: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Report:
    backtest: Backtest
    rows: list[BacktestRow]
    pays_more: list[BacktestRow]
    pays_less: list[BacktestRow]
    charges: list[ChargeMove]
    histogram: list[Bar]


def charge_movement(rows: list[BacktestRow]) -> list[ChargeMove]:
    """Per charge key, the billed and would-be amounts summed over the customers."""
    totals: dict[str, list] = {}
    for row in rows:
        for key, amounts in row.charges.items():
            entry = totals.setdefault(key, [amounts["label"], ZERO, ZERO])
            entry[1] += Decimal(amounts["billed"])
            entry[2] += Decimal(amounts["would_be"])
    return [
        ChargeMove(key=key, label=label, billed=billed, would_be=would_be)
        for key, (label, billed, would_be) in sorted(totals.items())
    ]


def histogram(differences: list[Decimal], *, bins: int = HISTOGRAM_BINS) -> list[Bar]:
    """The customers' differences in `bins` equal-width bins, with the SVG geometry of each bar
    (a 400 × 120 drawing)."""
    if not differences:
        return []
    low, high = min(differences), max(differences)
    if low == high:
        bins = 1
    width = (high - low) / bins if bins > 1 else Decimal("1")
    counts = [0] * bins
    for value in differences:
        index = bins - 1 if bins == 1 else min(bins - 1, int((value - low) / width))
        counts[index] += 1
    tallest = max(counts)
    bar_width = 400 // bins
    bars = []
    for index, count in enumerate(counts):
        height = 0 if not count else max(2, count * 110 // tallest)
        bars.append(
            Bar(
                low=low + width * index if bins > 1 else low,
                high=low + width * (index + 1) if bins > 1 else high,
                count=count,
                x=index * bar_width,
                y=120 - height,
                width=bar_width - 2,
                height=height,
            )
        )
    return bars


def backtest_report(*, backtest: Backtest) -> Report:
    rows = backtest_rows(backtest=backtest)
    ordered = sorted(rows, key=lambda row: row.difference)
    return Report(
        backtest=backtest,
        rows=rows,
        pays_more=[row for row in reversed(ordered) if row.difference > 0][:MOVERS],
        pays_less=[row for row in ordered if row.difference < 0][:MOVERS],
        charges=charge_movement(rows),
        histogram=histogram([row.difference for row in rows]),
    )


CSV_HEADER = [
    "customer",
    "name",
    "periods",
    "currency",
    "billed",
    "would_be",
    "difference",
    "difference_percent",
]


def backtest_csv_rows(*, backtest: Backtest) -> list[list[str]]:
    """The report as CSV rows: a header, one row per customer, then per-charge columns."""
    rows = backtest_rows(backtest=backtest)
    keys = [move.key for move in charge_movement(rows)]
    header = CSV_HEADER + [f"{key}_{side}" for key in keys for side in ("billed", "would_be")]
    currency = backtest.currency
    lines = [header]
    for row in rows:
        line = [
            row.customer.external_id,
            row.customer.name,
            str(row.periods),
            currency,
            money(row.billed, currency),
            money(row.would_be, currency),
            money(row.difference, currency),
            "" if row.difference_percent is None else str(row.difference_percent),
        ]
        for key in keys:
            amounts = row.charges.get(key, {"billed": "0", "would_be": "0"})
            line += [money(amounts["billed"], currency), money(amounts["would_be"], currency)]
        lines.append(line)
    return lines


def backtest_as_dict(*, backtest: Backtest, offset: int = 0, limit: int = 1000) -> dict:
    """The API shape of a backtest (docs/api.md, "Backtests"), rows [offset, offset + limit)."""
    currency = backtest.currency
    body = {
        "id": backtest.pk,
        "plan": backtest.plan.code,
        "version": backtest.plan.version,
        "currency": currency,
        "from": backtest.period_from.isoformat(),
        "to": backtest.period_to.isoformat(),
        "selection": backtest.selection,
        "sample": backtest.sample_size,
        "customers_selected": len(backtest.customers),
        "customers_done": backtest.customers_done,
        "status": backtest.status,
        "progress": backtest.progress,
        "error": backtest.error or None,
        "requested_by": backtest.requested_by,
        "created_at": backtest.created_at.isoformat(),
        "started_at": backtest.started_at.isoformat() if backtest.started_at else None,
        "finished_at": backtest.finished_at.isoformat() if backtest.finished_at else None,
        "totals": {
            "periods": backtest.periods,
            "billed": money(backtest.billed_total, currency),
            "would_be": money(backtest.would_be_total, currency),
            "difference": money(backtest.difference_total, currency),
            "difference_percent": _percent(
                percent_of(backtest.difference_total, backtest.billed_total)
            ),
        },
    }
    rows = backtest_rows(backtest=backtest)
    page = rows[offset : offset + limit]
    body["rows_total"] = len(rows)
    body["next_offset"] = offset + limit if offset + limit < len(rows) else None
    body["charges"] = [
        {
            "charge": move.key,
            "label": move.label,
            "billed": money(move.billed, currency),
            "would_be": money(move.would_be, currency),
            "difference": money(move.difference, currency),
        }
        for move in charge_movement(rows)
    ]
    body["rows"] = [
        {
            "customer": row.customer.external_id,
            "periods": row.periods,
            "billed": money(row.billed, currency),
            "would_be": money(row.would_be, currency),
            "difference": money(row.difference, currency),
            "difference_percent": _percent(row.difference_percent),
            "charges": {
                key: {
                    "label": amounts["label"],
                    "billed": money(amounts["billed"], currency),
                    "would_be": money(amounts["would_be"], currency),
                }
                for key, amounts in row.charges.items()
            },
        }
        for row in page
    ]
    return body


def _percent(value) -> str | None:
    return None if value is None else str(value)
