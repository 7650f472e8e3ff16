"""The cycle close shared among processes: for a large close run from the command line.

Each process bills an interleaved share of the due subscriptions with its own database
connection, through the same `subscriptions_bill`; the subscription row locks and the unique
constraint keep every invoice issued once, and the numbering lock keeps numbers gapless.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from django.db import connections

from invoices.models import Invoice


def _bill_share(subscription_ids: list[int], at: datetime) -> tuple[list[int], list[str]]:
    from invoices.services.cycles import subscriptions_bill
    from invoices.services.inputs import BuildContext

    try:
        invoices, errors = subscriptions_bill(
            subscription_ids=subscription_ids, at=at, ctx=BuildContext()
        )
        return [invoice.pk for invoice in invoices], errors
    finally:
        connections.close_all()


def subscriptions_bill_in_processes(
    *, subscription_ids: list[int], at: datetime, workers: int
) -> tuple[list[Invoice], list[str]]:
    """`subscriptions_bill` over `workers` processes: (invoices issued, errors)."""
    shares = [subscription_ids[index::workers] for index in range(workers)]
    # Children must open their own connections, never share the parent's socket.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=connections.close_all
    ) as pool:
        results = list(pool.map(_bill_share, shares, [at] * workers))
    invoice_ids = [pk for ids, _ in results for pk in ids]
    errors = [error for _, share_errors in results for error in share_errors]
    invoices = list(Invoice.objects.filter(pk__in=invoice_ids).select_related("customer"))
    return invoices, errors
