"""Late events: usage that arrived after the invoice of its period was finalized.

An event is late when its timestamp falls in the period of an issued (finalized, paid or
uncollectible) invoice of that customer and it was received after the invoice was issued. It
stays in the table (never lost) and is never billed twice: the invoice does not change; the
event debugger shows the flag. "After it was issued" is in billing time: received_at >
issued_at (the close's `at`); a close run with --at in the past therefore flags the events of
those periods received after that moment.
"""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef

from invoices.models import Invoice, InvoiceStatus
from metering.models import Event

ISSUED = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
# The close runs every minute: looking back a week over received events is plenty, and keeps
# the update off the bulk of the events table.
LOOKBACK = timedelta(days=7)


def events_flag_late(*, at: datetime, received_since: datetime | None = None) -> int:
    """Flag the late events received since `received_since` (default: a week before `at`).

    One UPDATE ... WHERE EXISTS; returns how many events were flagged.
    """
    since = at - LOOKBACK if received_since is None else received_since
    issued_invoice = Invoice.objects.filter(
        customer__external_id=OuterRef("external_customer_id"),
        status__in=ISSUED,
        period_start__lte=OuterRef("timestamp"),
        period_end__gt=OuterRef("timestamp"),
        issued_at__lt=OuterRef("received_at"),
    )
    return (
        Event.objects.filter(is_late=False, received_at__gte=since)
        .filter(Exists(issued_invoice))
        .update(is_late=True)
    )
