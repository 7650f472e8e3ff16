"""Two catch-up runs at once (PostgreSQL): each line, credit note line and void gets exactly one
revenue schedule (the invoice row lock and the unique constraints)."""

from decimal import Decimal

import pytest

from finance.models import RevenueEntry, RevenueSchedule, RevenueSource
from finance.services import revenue_sync
from invoices.models import Invoice
from invoices.services import cycles_close, invoice_void
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc
from tests.invoices.test_concurrency import run_at_once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_backfills_at_once_write_each_schedule_once():
    pro = pro_plan()
    for index in range(5):
        external_id = f"customer-{index}"
        subscribe(customer(external_id), pro, started_at=utc(2026, 1, 1), at=utc(2026, 3, 2))
        send(external_id, "api_call", utc(2026, 1, 2), count=index + 1, at=utc(2026, 3, 2))
    cycles_close(at=utc(2026, 3, 2))
    lines = RevenueSchedule.objects.count()
    assert lines == Invoice.objects.count() * 4 == 40
    invoice_void(invoice=Invoice.objects.order_by("pk").first(), at=utc(2026, 3, 3))
    RevenueSchedule.objects.filter(invoice__customer__external_id="customer-4").delete()

    reports = run_at_once(revenue_sync)

    assert sum(report.lines for report in reports) == 8  # customer-4's two invoices, once
    assert sum(report.voids for report in reports) == 1
    assert RevenueSchedule.objects.filter(source=RevenueSource.INVOICE_LINE).count() == lines
    assert RevenueSchedule.objects.filter(source=RevenueSource.INVOICE_VOID).count() == 1
    billed = sum(Invoice.objects.exclude(status="void").values_list("subtotal", flat=True))
    assert sum(RevenueEntry.objects.values_list("amount", flat=True)) == billed > Decimal(0)
