"""Gapless invoice numbers per year (INV-2026-000123), given at finalization under a row lock."""

from django.db import transaction

from invoices.models import InvoiceSequence

NUMBER_FORMAT = "INV-{year}-{number:06d}"


def invoice_number_next(*, year: int) -> str:
    """Take the next number of `year`: call it inside the transaction that finalizes.

    The year's sequence row stays locked (select_for_update) until that transaction ends, so
    two finalizations queue up; a rollback gives the number back, so numbers have no gaps.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_number_next must run inside the finalizing transaction.")
    sequence, _ = InvoiceSequence.objects.select_for_update().get_or_create(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return NUMBER_FORMAT.format(year=year, number=sequence.last_number)
