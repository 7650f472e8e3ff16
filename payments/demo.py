"""Demo data for the payments app, loaded by `manage.py seed_demo` (idempotent).

`seed_overdue` (before the invoices demo, so numbers stay in issue order) issues a one-off
invoice to Initech 20 days ago, unpaid and overdue; `seed` (after it) records a full bank
transfer on Acme's first invoice and a partial one on Globex's, so the admin, the hosted pages
and the Overdue list show a paid, a partly paid and an overdue invoice.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from customers.models import Customer
from invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from invoices.services import invoice_finalize
from payments.models import Payment
from payments.services import payment_record_manual

OVERDUE_LINE = "Onboarding workshop (demo)"


def seed_overdue(*, at: datetime) -> str:
    customer = Customer.objects.filter(external_id="initech").first()
    if customer is None:
        return ""
    if InvoiceLine.objects.filter(invoice__customer=customer, description=OVERDUE_LINE).exists():
        return "Payments: the overdue demo invoice exists."
    amount = Decimal("450.00")
    issued = at - timedelta(days=20)
    draft = Invoice.objects.create(
        customer=customer,
        kind=InvoiceKind.ONE_OFF,
        currency=customer.currency or "USD",
        subtotal=amount,
        total=amount,
        amount_due=amount,
    )
    InvoiceLine.objects.create(
        invoice=draft,
        kind=LineKind.SETUP_FEE,
        description=OVERDUE_LINE,
        quantity=Decimal("1"),
        unit_amount=amount,
        amount=amount,
    )
    invoice = invoice_finalize(invoice=draft, at=issued, refresh=False)
    return f"Payments: {invoice.number} issued to Initech 20 days ago, unpaid (overdue)."


def _first_open(external_id: str) -> Invoice | None:
    return (
        Invoice.objects.filter(
            customer__external_id=external_id,
            status=InvoiceStatus.FINALIZED,
            amount_due__gt=0,
            kind=InvoiceKind.SUBSCRIPTION,
        )
        .order_by("pk")
        .first()
    )


def seed(*, at: datetime) -> str:
    done = []
    for external_id, share, reference in (
        ("acme", Decimal("1"), "DEMO-WIRE-ACME"),
        ("globex", Decimal("0.375"), "DEMO-WIRE-GLOBEX"),
    ):
        if Payment.objects.filter(reference=reference).exists():
            continue
        invoice = _first_open(external_id)
        if invoice is None:
            continue
        amount = (invoice.amount_due * share).quantize(Decimal("0.01"))
        payment_record_manual(
            invoice=invoice, amount=amount, method="bank_transfer", reference=reference, at=at
        )
        done.append(f"{invoice.number} {'paid' if share == 1 else 'partly paid'}")
    return f"Payments: {', '.join(done) or 'demo payments already recorded'}."
