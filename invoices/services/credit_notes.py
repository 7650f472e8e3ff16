"""Credit notes: corrections of a finalized invoice (docs/operations.md, "Credit notes").

A credit note credits part or all of an invoice, by line (net amounts; the invoice's tax rates
are added) or by amount (a gross amount; the tax included in it is split off in the invoice's
tax-to-total proportion). What it may credit is bounded by the invoice's total less earlier
credit notes, and per line by the line's amount less its discount and earlier credits.

Its total is added to Invoice.amount_credited, which the payment ledger takes off what is
owed (remaining = max(amount_due − amount_credited − paid, 0)). It first covers what was still
unpaid (`applied_to_invoice`); the rest (`outcome_amount`) was already paid and goes to the
outcome: `refund` (through the payment gateway, by the handler the
payments app registers), `wallet` (a wallet credit, source key "credit_note:<id>"), or
`next_invoice` (taken off the amount due of the customer's next finalized invoices). Numbers
come from their own gapless series, CN-2026-000001, under a row lock like invoice numbers.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q, Sum

from billing.errors import AppError
from catalog.currencies import currency_exponent, format_money, round_to_currency
from customers.services.wallets import wallet_credit
from invoices.balances import invoice_balance
from invoices.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteOutcome,
    CreditNoteSequence,
    CreditNoteStatus,
    Invoice,
    InvoiceOffset,
    InvoiceStatus,
)
from invoices.services.numbering import sequence_take
from invoices.signals import credit_note_issued
from rating.adjustments import percentage_of, spread_pro_rata

ZERO = Decimal("0")
NUMBER_FORMAT = "CN-{year}-{number:06d}"
CREDITABLE = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
OPEN = (InvoiceStatus.FINALIZED, InvoiceStatus.UNCOLLECTIBLE)
MAX_REASON = 500
MAX_LINES = 500

# outcome → handler(credit_note=, amount=, at=) that moves `amount` out; registered at start-up
# by the apps above invoices (payments: refund). Returns nothing; raises AppError to refuse.
OutcomeHandler = Callable[..., None]
_handlers: dict[str, OutcomeHandler] = {}


def register_outcome_handler(outcome: str, handler: OutcomeHandler) -> None:
    _handlers[outcome] = handler


@dataclass(frozen=True)
class LineCredit:
    line_id: int
    amount: Decimal


def credit_note_number_next(*, year: int) -> str:
    """The next credit note number of `year`, inside the issuing transaction (row-locked)."""
    last = sequence_take(sequence=CreditNoteSequence, year=year, count=1)
    return NUMBER_FORMAT.format(year=year, number=last)


def credited_total(*, invoice: Invoice) -> Decimal:
    """What the invoice's issued credit notes credit in all."""
    return (
        CreditNote.objects.filter(invoice=invoice, status=CreditNoteStatus.ISSUED).aggregate(
            total=Sum("total")
        )["total"]
        or ZERO
    )


def credited_by_line(*, invoice: Invoice) -> dict[int, Decimal]:
    """{invoice line id: net amount credited so far}."""
    rows = (
        CreditNoteLine.objects.filter(
            credit_note__invoice=invoice,
            credit_note__status=CreditNoteStatus.ISSUED,
            invoice_line__isnull=False,
        )
        .values("invoice_line_id")
        .annotate(total=Sum("amount"))
    )
    return {row["invoice_line_id"]: row["total"] for row in rows}


def invoice_creditable(*, invoice: Invoice) -> Decimal:
    """What credit notes may still credit on the invoice (gross: tax included)."""
    return max(invoice.total - credited_total(invoice=invoice), ZERO)


def _money(value, *, field: str, currency: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise AppError({field: ["Must be a positive amount."]})
    if round_to_currency(value, currency) != value:
        raise AppError(
            {field: [f"{currency} amounts have at most {currency_exponent(currency)} decimals."]}
        )
    return value


def _tax_rates(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [(tax["name"], Decimal(tax["rate"])) for tax in invoice.taxes]


def _by_lines(invoice: Invoice, credits: list[LineCredit]) -> tuple[list[CreditNoteLine], list]:
    """Credit note lines for {line, net amount}, each line's tax per the invoice's rates."""
    if not credits or len(credits) > MAX_LINES:
        raise AppError({"lines": [f"Give 1 to {MAX_LINES} lines."]})
    if len({credit.line_id for credit in credits}) != len(credits):
        raise AppError({"lines": ["Each invoice line may be credited once per note."]})
    invoice_lines = {line.pk: line for line in invoice.lines.all()}
    already = credited_by_line(invoice=invoice)
    exponent = currency_exponent(invoice.currency)
    rows = []
    for index, credit in enumerate(credits):
        line = invoice_lines.get(credit.line_id)
        if line is None:
            raise AppError(
                {
                    "lines": {
                        str(index): {
                            "line_id": [f"Invoice {invoice} has no line {credit.line_id}."]
                        }
                    }
                }
            )
        amount = _money(credit.amount, field="amount", currency=invoice.currency)
        left = line.amount - line.discount - already.get(line.pk, ZERO)
        if amount > left:
            raise AppError(
                {
                    "lines": {
                        str(index): {
                            "amount": [
                                f"Only {format_money(max(left, ZERO), invoice.currency)} "
                                f"{invoice.currency} of line {line.pk} is left to credit."
                            ]
                        }
                    }
                }
            )
        rows.append(
            CreditNoteLine(
                invoice_line=line, position=index, description=line.description, amount=amount
            )
        )
    subtotal = sum((row.amount for row in rows), ZERO)
    taxes = [
        (name, rate, percentage_of(subtotal, rate, exponent=exponent))
        for name, rate in _tax_rates(invoice)
    ]
    tax = sum((amount for _, _, amount in taxes), ZERO)
    for row, share in zip(
        rows, spread_pro_rata(tax, [row.amount for row in rows], exponent=exponent), strict=True
    ):
        row.tax = share
    return rows, taxes


def _by_amount(invoice: Invoice, amount: Decimal) -> tuple[list[CreditNoteLine], list]:
    """One line crediting a gross amount; the tax in it in the invoice's tax/total proportion."""
    amount = _money(amount, field="amount", currency=invoice.currency)
    exponent = currency_exponent(invoice.currency)
    tax = ZERO
    if invoice.tax > 0 and invoice.total > 0:
        tax = percentage_of(amount, invoice.tax * 100 / invoice.total, exponent=exponent)
    rates = _tax_rates(invoice)
    per_rate = spread_pro_rata(
        tax, [Decimal(entry["amount"]) for entry in invoice.taxes], exponent=exponent
    )
    taxes = [(name, rate, share) for (name, rate), share in zip(rates, per_rate, strict=True)]
    row = CreditNoteLine(
        position=0, description=f"Credit on invoice {invoice.number}", amount=amount - tax, tax=tax
    )
    if row.amount <= 0:
        raise AppError({"amount": ["The amount is too small to credit."]})
    return [row], taxes


def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    outcome: str,
    at: datetime,
    lines: list[LineCredit] | None = None,
    amount: Decimal | None = None,
    idempotency_key: str | None = None,
    created_by: str = "",
) -> CreditNote:
    """Issue a credit note on a finalized, paid or uncollectible invoice (module docstring).

    Bad input or an outcome that cannot be carried out → AppError, and nothing changes.
    An idempotency_key seen before returns the note it made.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise AppError({"reason": [f"Give a reason of 1 to {MAX_REASON} characters."]})
    if outcome not in CreditNoteOutcome.values:
        raise AppError({"outcome": [f"Must be one of {', '.join(CreditNoteOutcome.values)}."]})
    if (lines is None) == (amount is None):
        raise AppError('Give either "lines" or "amount".')
    with transaction.atomic():
        if idempotency_key and (
            found := CreditNote.objects.filter(idempotency_key=idempotency_key).first()
        ):
            if found.invoice_id != invoice.pk:
                raise AppError.conflict("This idempotency key was used for another invoice.")
            return found
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer")
            .get(pk=invoice.pk)
        )
        if invoice.status not in CREDITABLE:
            raise AppError.conflict(
                f"Invoice {invoice} is {invoice.status}: only a finalized, paid or "
                "uncollectible invoice can be credited."
            )
        rows, taxes = (
            _by_lines(invoice, lines) if lines is not None else _by_amount(invoice, amount)
        )
        subtotal = sum((row.amount for row in rows), ZERO)
        tax = sum((share for _, _, share in taxes), ZERO)
        total = subtotal + tax
        creditable = invoice_creditable(invoice=invoice)
        if total > creditable:
            raise AppError(
                {
                    "amount": [
                        f"This note would credit {format_money(total, invoice.currency)} "
                        f"{invoice.currency}; only {format_money(creditable, invoice.currency)} "
                        f"{invoice.currency} of invoice {invoice} is left to credit."
                    ]
                }
            )
        owed = invoice_balance(invoice=invoice).amount_remaining if invoice.status in OPEN else ZERO
        applied = min(total, owed)
        note = CreditNote.objects.create(
            invoice=invoice,
            customer=invoice.customer,
            number=credit_note_number_next(year=at.year),
            currency=invoice.currency,
            reason=reason,
            outcome=outcome,
            subtotal=subtotal,
            tax=tax,
            taxes=[
                {"name": name, "rate": f"{rate.normalize():f}", "amount": str(share)}
                for name, rate, share in taxes
            ],
            total=total,
            applied_to_invoice=applied,
            outcome_amount=total - applied,
            idempotency_key=idempotency_key or None,
            created_by=created_by[:150],
            issued_at=at,
        )
        for row in rows:
            row.credit_note = note
        CreditNoteLine.objects.bulk_create(rows)
        invoice.amount_credited += total
        invoice.save(update_fields=["amount_credited", "updated_at"])
        if note.outcome_amount > 0:
            _carry_out(note, at=at)
        credit_note_issued.send(sender=CreditNote, credit_note=note, at=at)
    return note


def _carry_out(note: CreditNote, *, at: datetime) -> None:
    """Move the already-paid part out: refund, wallet credit; next_invoice waits."""
    if note.outcome == CreditNoteOutcome.NEXT_INVOICE:
        return
    if note.outcome == CreditNoteOutcome.WALLET:
        reference = credit_note_to_wallet(note=note, at=at)
        CreditNote.objects.filter(pk=note.pk).update(wallet_reference=reference)
        note.wallet_reference = reference
        return
    handler = _handlers.get(note.outcome)
    if handler is None:
        raise AppError.conflict("Refunds are not available: the payments app is not installed.")
    handler(credit_note=note, amount=note.outcome_amount, at=at)


def credit_note_to_wallet(*, note: CreditNote, at: datetime) -> str:
    """Credit the note's outcome amount to the customer's wallet; returns a reference.

    The integration point with the wallets (customers.services.wallets.wallet_credit,
    idempotent on source_key "credit_note:<id>").
    """
    transaction_row = wallet_credit(
        customer=note.customer,
        currency=note.currency,
        amount=note.outcome_amount,
        reason=f"Credit note {note.number}: {note.reason}"[:300],
        source_key=f"credit_note:{note.pk}",
        created_by=note.created_by,
        at=at,
    )
    return str(getattr(transaction_row, "pk", "") or "")


def offsets_open_customer_ids(*, customer_ids: set[int]) -> set[int]:
    """Those of the customers that have next-invoice credit notes not yet used up."""
    return set(
        CreditNote.objects.filter(
            customer_id__in=customer_ids,
            outcome=CreditNoteOutcome.NEXT_INVOICE,
            status=CreditNoteStatus.ISSUED,
            outcome_amount__gt=F("offset_used"),
        ).values_list("customer_id", flat=True)
    )


def offsets_apply(*, invoice: Invoice) -> Decimal:
    """At finalization: take the customer's open next-invoice credit notes (same currency,
    oldest first) off what the invoice leaves to pay; returns the amount taken.

    The caller holds the invoice's row lock; amount_credited is updated (and saved) here.
    """
    left = invoice.amount_due - invoice.amount_credited
    if left <= 0:
        return ZERO
    notes = (
        CreditNote.objects.select_for_update()
        .filter(
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            outcome=CreditNoteOutcome.NEXT_INVOICE,
            status=CreditNoteStatus.ISSUED,
            outcome_amount__gt=0,
        )
        .exclude(Q(invoice=invoice))
        .order_by("issued_at", "id")
    )
    taken = ZERO
    for note in notes:
        available = note.outcome_amount - note.offset_used
        use = min(available, left - taken)
        if use <= 0:
            continue
        InvoiceOffset.objects.create(credit_note=note, invoice=invoice, amount=use)
        note.offset_used += use
        note.save(update_fields=["offset_used", "updated_at"])
        taken += use
        if taken >= left:
            break
    if taken:
        invoice.amount_credited += taken
        invoice.save(update_fields=["amount_credited", "updated_at"])
    return taken


def offsets_release(*, invoice: Invoice) -> Decimal:
    """On voiding: give back the next-invoice credit the invoice had taken (its notes' offsets
    are then taken by the customer's next finalized invoice, its reissue included)."""
    released = ZERO
    for offset in InvoiceOffset.objects.filter(invoice=invoice).select_related("credit_note"):
        note = CreditNote.objects.select_for_update().get(pk=offset.credit_note_id)
        note.offset_used -= offset.amount
        note.save(update_fields=["offset_used", "updated_at"])
        released += offset.amount
        offset.delete()
    return released
