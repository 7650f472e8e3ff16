"""The invoices app's actions: the cycle close, on-demand billing, and an invoice's lifecycle.

Modules: drafts (invoices in memory, totals), inputs (what the builder reads), builder (what a
subscription owes, shared by the close, its dry run and the preview), steps (which invoice is
due next), on_demand, persist (saving, refreshing drafts), numbering, lifecycle (finalize,
void, uncollectible), grace (drafts in grace), late_events, prefetch (bulk usage reads),
workers (the close shared among processes), cycles (the close itself), ledger (what a charge
owes for a slice of a period), verification (issued invoices recomputed from their events).
"""

from invoices.services.cycles import (
    CloseReport,
    cycles_close,
    subscription_bill_due,
    subscription_bill_on_demand,
    subscriptions_close_periods,
)
from invoices.services.grace import drafts_settle
from invoices.services.late_events import events_flag_late
from invoices.services.lifecycle import (
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_void,
)
from invoices.services.persist import invoice_refresh_usage
from invoices.services.verification import VerificationReport, invoices_verify

__all__ = [
    "CloseReport",
    "VerificationReport",
    "cycles_close",
    "drafts_settle",
    "events_flag_late",
    "invoice_finalize",
    "invoice_mark_uncollectible",
    "invoice_refresh_usage",
    "invoice_void",
    "invoices_verify",
    "subscription_bill_due",
    "subscription_bill_on_demand",
    "subscriptions_close_periods",
]
