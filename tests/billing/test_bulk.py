"""billing.bulk.rows_insert: the close's bulk inserts (COPY on PostgreSQL, bulk_create elsewhere)
save what bulk_create saves, give ids, and refuse what the constraints refuse."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.bulk import rows_insert
from invoices.models import Invoice, InvoiceLine
from tests.factories import FinalizedInvoiceFactory, _aware

pytestmark = pytest.mark.django_db


def test_rows_are_saved_with_their_ids_json_decimals_and_related_ids():
    invoice = FinalizedInvoiceFactory()
    breakdown = {"quantity": "2500", "rows": [{"tier": 1, "amount": "800.00"}], "note": "a\tb\n"}
    unsaved = Invoice(
        customer=invoice.customer,
        kind="subscription",
        status="draft",
        currency="USD",
        period_start=_aware(2026, 2, 1),
        period_end=_aware(2026, 3, 1),
        total=Decimal("12.345678"),
    )
    lines = [
        InvoiceLine(
            invoice=invoice,
            position=1,
            kind="usage",
            description="API calls\\ with a backslash",
            quantity=Decimal("2500.5"),
            amount=Decimal("1600.00"),
            breakdown=breakdown,
            usage_start=_aware(2026, 1, 1),
            usage_end=_aware(2026, 2, 1),
        ),
        # Assigned before it was saved: its id is taken when the line is inserted.
        InvoiceLine(invoice=unsaved, kind="base_fee", description="Fee", amount=Decimal("29")),
    ]
    rows_insert(Invoice, [unsaved])
    saved = rows_insert(InvoiceLine, lines)

    assert [line.pk for line in saved] == [line.pk for line in lines]
    assert all(line.pk for line in lines) and not lines[0]._state.adding
    first, second = (InvoiceLine.objects.get(pk=line.pk) for line in lines)
    assert first.invoice_id == invoice.pk and second.invoice_id == unsaved.pk
    assert first.description == "API calls\\ with a backslash"
    assert first.breakdown == breakdown
    assert first.quantity == Decimal("2500.5") and first.amount == Decimal("1600.00")
    assert first.usage_end == _aware(2026, 2, 1) and second.usage_start is None
    reread = Invoice.objects.get(pk=unsaved.pk)
    assert reread.total == Decimal("12.345678") and reread.created_at is not None


def test_a_constraint_refused_is_an_integrity_error_and_saves_nothing():
    invoice = FinalizedInvoiceFactory()
    twin = Invoice(
        customer=invoice.customer,
        kind="subscription",
        status="draft",
        currency="USD",
        period_start=invoice.period_start,
        period_end=invoice.period_end,
    )
    twin.subscription_id = invoice.subscription_id
    before = Invoice.objects.count()
    # The number is unique: a second invoice numbered like the first is refused.
    twin.status, twin.number = "finalized", invoice.number
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(Invoice, [twin])
    assert Invoice.objects.count() == before


def test_nothing_to_insert_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_insert(InvoiceLine, []) == []
