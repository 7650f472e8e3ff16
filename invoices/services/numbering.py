"""Gapless invoice numbers per year (INV-2026-000123), and what finalizing sets on an invoice.

A number is taken inside the finalizing transaction: the year's sequence row stays locked until
that transaction ends, so two finalizations queue up, and a rollback gives the number back.
"""

from datetime import datetime, timedelta

from django.db import connection, models, transaction

from customers.models import Customer
from invoices.models import InvoiceSequence, InvoiceStatus

NUMBER_FORMAT = "INV-{year}-{number:06d}"


def invoice_numbers_take(*, year: int, count: int) -> list[str]:
    """Take the next `count` numbers of `year`, in order (inside the finalizing transaction)."""
    if count < 1:
        return []
    last = sequence_take(sequence=InvoiceSequence, year=year, count=count)
    return [NUMBER_FORMAT.format(year=year, number=n) for n in range(last - count + 1, last + 1)]


def sequence_take(*, sequence: type[models.Model], year: int, count: int) -> int:
    """Advance `sequence`'s row of `year` by `count` and return its new last number (a
    per-year sequence model with `year` and `last_number`: invoices, credit notes)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Numbers are taken inside the issuing transaction.")
    table = connection.ops.quote_name(sequence._meta.db_table)
    with connection.cursor() as cursor:
        # One statement takes the row lock and the numbers (PostgreSQL and SQLite ≥ 3.35).
        cursor.execute(
            f"UPDATE {table} SET last_number = last_number + %s WHERE year = %s "
            "RETURNING last_number",
            [count, year],
        )
        row = cursor.fetchone()
    if row is None:
        counter, _ = sequence.objects.select_for_update().get_or_create(year=year)
        counter.last_number += count
        counter.save(update_fields=["last_number"])
        return counter.last_number
    return row[0]


def invoice_number_next(*, year: int) -> str:
    """Take the next number of `year` (inside the finalizing transaction)."""
    return invoice_numbers_take(year=year, count=1)[0]


def finalization_fields(*, customer: Customer, at: datetime, number: str | None = None) -> dict:
    """The fields a finalized invoice gets: its number (taken now unless given), issued_at = at,
    and the due date (issue date + the customer's net payment terms)."""
    return {
        "number": number or invoice_number_next(year=at.year),
        "status": InvoiceStatus.FINALIZED,
        "issued_at": at,
        "due_date": at.date() + timedelta(days=customer.net_payment_terms_days),
    }
