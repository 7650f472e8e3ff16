"""The close on a fresh database (PostgreSQL): its foreign-key checks find invoices by index.

PostgreSQL checks the lines', ledger entries' and schedules' foreign keys at each write
batch's commit with plans it keeps for the whole session. Planned while the invoice table was
still empty, such a plan scans the table whole, and every check of every later batch in that
session scanned a table that kept growing: a first close of 10,000 subscriptions in one
process took twice as long (docs/performance.md, "Cycle close"). The close now has them
planned again after each write batch, on the table as it then is.
"""

import pytest
from django.db import connection
from django_q.conf import Conf

from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, plan, subscribe, utc

SUBSCRIPTIONS = 200


def invoice_table_scans() -> int:
    """Sequential scans of the invoice table so far (this session's counts flushed first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:  # flushed when the statement above ended
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'invoices_invoice'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_session_that_closed_on_an_empty_table_finds_invoices_by_index_later(monkeypatch):
    monkeypatch.setattr("invoices.services.cycles.WRITE_BATCH", 25)
    # Tasks (PDFs, emails) go to the queue instead of running here: their own reads of a small
    # table may rightly scan it and would blur the count below.
    monkeypatch.setattr(Conf, "SYNC", False)
    monthly = plan(
        "monthly",
        base_amount="10.00",
        base_timing="in_arrears",
        charges=[
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
            {"meter": "tokens", "model": "per_unit", "unit_amount": "0.001"},
        ],
    )
    for index in range(SUBSCRIPTIONS):
        subscribe(customer(f"c{index}"), monthly, started_at=utc(2026, 3, 1), at=utc(2026, 4, 1))
    with connection.cursor() as cursor:
        # The statistics of a database that has never issued an invoice: an empty table.
        cursor.execute("ANALYZE invoices_invoice")
    connection.close()  # one new session for both closes, as a worker keeps its own

    march = cycles_close(at=utc(2026, 4, 1))  # plans made while the table was empty
    before = invoice_table_scans()
    april = cycles_close(at=utc(2026, 5, 1))
    scans = invoice_table_scans() - before

    assert march.errors == april.errors == []
    assert len(march.created) == len(april.created) == SUBSCRIPTIONS
    assert Invoice.objects.filter(status="finalized").count() == 2 * SUBSCRIPTIONS
    # Each invoice is checked about eight times (its lines, ledger entries, revenue schedule):
    # plans kept from the empty table would scan it for each of April's checks (1,608 here;
    # 8 with the plans made again, from the close's other reads).
    assert scans < SUBSCRIPTIONS // 4, f"{scans} sequential scans of the invoice table in April"
