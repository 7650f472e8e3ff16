"""PDF rendering benchmark: one one-page invoice rendered N times, cold first, then warm.

    .venv/bin/python bench/pdf.py [--runs 50] [--out bench/out/invoice.pdf]

Prints the cold render (first in the process: WeasyPrint import, fonts, stylesheet) and the
warm p50/p95 in milliseconds. The invoice is built in memory (nothing is saved), so no
database or server is needed. Target: warm ≤ 150 ms.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")


def one_page_invoice():
    """The Pro plan's invoice of the seeds plus a tiered line: a realistic one-pager."""
    from customers.models import Customer
    from invoices.models import Invoice, InvoiceLine

    period = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    customer = Customer(
        external_id="bench-customer",
        name="Acme Analytics Ltd",
        email="ap@acme.example",
        address_line1="5 Harbour Road",
        city="Bristol",
        postal_code="BS1 5TR",
        country="GB",
        tax_id="GB123456789",
    )
    invoice = Invoice(
        customer=customer,
        kind="subscription",
        status="finalized",
        currency="USD",
        number="INV-2026-000123",
        period_start=period[0],
        period_end=period[1],
        issued_at=datetime(2026, 2, 1, 0, 5, tzinfo=UTC),
        due_date=date(2026, 2, 15),
        subtotal=Decimal("1660.50"),
        tax=Decimal("0"),
        total=Decimal("1660.50"),
        amount_due=Decimal("1660.50"),
    )

    def per_unit(description, quantity, price, amount):
        return InvoiceLine(
            kind="usage",
            description=description,
            quantity=Decimal(quantity),
            unit_amount=Decimal(price),
            amount=Decimal(amount),
            usage_start=period[0],
            usage_end=period[1],
        )

    bands = [
        ("1 – 1000 @ 0.80", "1000", "0.8", "800"),
        ("1001 – 2000 @ 0.60", "1000", "0.6", "600"),
    ]
    bands.append(("2001 and above @ 0.40", "500", "0.4", "200"))
    tiered = InvoiceLine(
        kind="usage",
        description="Tokens",
        quantity=Decimal("2500"),
        amount=Decimal("1600.00"),
        usage_start=period[0],
        usage_end=period[1],
        breakdown={
            "quantity": "2500",
            "free_units": "0",
            "billable_quantity": "2500",
            "amount": "1600",
            "breakdown": [
                {"label": label, "units": units, "unit_amount": price, "flat_amount": "0"}
                | {"amount": amount, "from_unit": None, "up_to": None}
                for label, units, price, amount in bands
            ],
        },
    )
    lines = [
        InvoiceLine(
            kind="base_fee",
            description="Pro plan — monthly fee",
            quantity=Decimal("1"),
            unit_amount=Decimal("29"),
            amount=Decimal("29.00"),
        ),
        per_unit("Credits", "50", "0.25", "12.50"),
        per_unit("API calls", "1000", "0.01", "10.00"),
        per_unit("Storage (GB)", "5", "1.80", "9.00"),
        tiered,
    ]
    return invoice, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="warm renders (default 50)")
    parser.add_argument("--out", type=Path, help="also write the PDF here")
    args = parser.parse_args()

    import django

    django.setup()
    from invoices.pdf import invoice_render_pdf

    invoice, lines = one_page_invoice()
    started = time.perf_counter()
    pdf = invoice_render_pdf(invoice=invoice, lines=lines)
    cold_ms = (time.perf_counter() - started) * 1000

    warm_ms = []
    for _ in range(args.runs):
        started = time.perf_counter()
        invoice_render_pdf(invoice=invoice, lines=lines)
        warm_ms.append((time.perf_counter() - started) * 1000)
    warm_ms.sort()
    p95 = warm_ms[min(len(warm_ms) - 1, round(0.95 * (len(warm_ms) - 1)))]

    from weasyprint import __version__ as weasyprint_version
    from weasyprint.text.ffi import harfbuzz_subset

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(pdf)
    print(
        f"PDF rendering, one-page invoice ({len(pdf) / 1024:.0f} KiB), "
        f"WeasyPrint {weasyprint_version}, font subsetting by "
        f"{'HarfBuzz-Subset' if harfbuzz_subset else 'fontTools (no libharfbuzz-subset0)'}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"cold: {cold_ms:.0f} ms")
    print(
        f"warm: p50 {statistics.median(warm_ms):.0f} ms, p95 {p95:.0f} ms "
        f"over {args.runs} renders (target ≤ 150 ms)"
    )


if __name__ == "__main__":
    main()
