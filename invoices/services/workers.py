"""The cycle close shared among processes or among the task cluster's workers.

- `subscriptions_bill_in_processes` (`close_cycles --workers N`): each process of this
  machine bills an interleaved share of the due subscriptions with its own database
  connection, through the same `subscriptions_bill`.
- `subscriptions_bill_in_tasks` (the schedule, `close_cycles --queue`): batches of due
  subscriptions queued as django-q2 tasks on the broker, taken by any worker of any machine.

Either way the subscription row locks and the unique constraint keep every invoice issued
once, and the numbering lock keeps numbers gapless (docs/scaling.md "Cycle close").
"""

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from django.db import connections
from django_q.tasks import async_task

from invoices.models import Invoice

PR_SET_PDEATHSIG = 1
PARENT_CHECK_SECONDS = 1.0


def die_with_parent(*, parent: int | None = None) -> None:
    """Make this (child) process end when its parent does, even on `kill -9` of the parent.

    Linux delivers SIGKILL at the parent's death (prctl PR_SET_PDEATHSIG); elsewhere, and for
    a parent that died before the call, a daemon thread exits once the parent pid changes.
    Without it, a killed `close_cycles --workers N` leaves its workers blocked on a pipe.
    `parent`: the pid the parent had before forking (a child reading its own parent pid could
    already read the adopting process's, had the parent died in between).
    """
    parent = os.getppid() if parent is None else parent
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (AttributeError, OSError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while not _parent_gone.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


_parent_gone = threading.Event()


def _worker_init(parent: int) -> None:
    connections.close_all()
    die_with_parent(parent=parent)


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
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(os.getpid(),),
    ) as pool:
        results = list(pool.map(_bill_share, shares, [at] * workers))
    invoice_ids = [pk for ids, _ in results for pk in ids]
    errors = [error for _, share_errors in results for error in share_errors]
    invoices = list(Invoice.objects.filter(pk__in=invoice_ids).select_related("customer"))
    return invoices, errors


def subscriptions_bill_in_tasks(
    *, subscription_ids: list[int], at: datetime, batch: int
) -> tuple[int, int]:
    """Queue the subscriptions in tasks of `batch`: (subscriptions, tasks) queued.

    Consecutive ids per task (their rows, phases and usage sit together); a task that fails
    or times out is retried by django-q2 (Q_RETRY) and re-checks what is still due.
    """
    group = f"close-cycles {at.isoformat()}"
    tasks = 0
    for offset in range(0, len(subscription_ids), batch):
        async_task(
            "invoices.tasks.close_batch_task",
            subscription_ids[offset : offset + batch],
            at,
            group=group,
        )
        tasks += 1
    return len(subscription_ids), tasks
