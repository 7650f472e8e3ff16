"""Signals the invoices app sends, so the apps above it (payments, notifications) can act on an
invoice's life without invoices importing them (a lower layer never imports a higher one)."""

from django.dispatch import Signal

# Sent inside the finalizing transaction, right after an invoice got its number and status
# "finalized". Keyword arguments: invoice (the Invoice). A receiver that must reach the outside
# world (a payment attempt, an email) queues its work with transaction.on_commit.
invoice_finalized = Signal()

# Sent once for invoices finalized together (the cycle close saves and finalizes invoices in
# batches), in the same transaction, after invoice_finalized was sent for each of them with
# together=True. Keyword arguments: invoices (the list); lines: when the invoices were created
# by the cycle close, their saved lines as invoices.services.persist.SavedLine records (id,
# invoice_id, position, amount, discount, usage_start, usage_end), of which nothing else can
# refer to any yet (else None). A receiver whose per-invoice work costs a query or more (an
# audit entry, a webhook endpoint lookup) may skip the single signals carrying together=True
# and do it here for all of them at once.
invoices_finalized_together = Signal()

# Sent inside the issuing transaction once a credit note is saved and the invoice's
# amount_credited updated. Keyword arguments: credit_note, at. payments settles the invoice
# (paid once nothing is left to pay).
credit_note_issued = Signal()
