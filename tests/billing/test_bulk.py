"""billing.bulk: the close's bulk writes (COPY and one UPDATE on PostgreSQL, bulk_create and
bulk_update elsewhere) save what bulk_create and bulk_update save, give ids, and refuse what the
constraints refuse."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, models, transaction
from django.test.utils import isolate_apps

from billing.bulk import rows_insert, rows_update, values_insert
from finance.models import RevenueSchedule
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


def _drafts(count: int) -> list[Invoice]:
    customer = FinalizedInvoiceFactory().customer
    return [
        Invoice.objects.create(
            customer=customer,
            kind="subscription",
            status="draft",
            currency="USD",
            period_start=_aware(2026, 2, 1),
            period_end=_aware(2026, 3, index + 1),
            total=Decimal("10.00"),
        )
        for index in range(count)
    ]


FINALIZED = ["number", "status", "issued_at", "due_date", "updated_at", "taxes", "total"]


def _finalize_in_memory(invoices: list[Invoice], first_number: int) -> None:
    for offset, invoice in enumerate(invoices):
        invoice.number = f"INV-2026-{first_number + offset:06d}"
        invoice.status = "finalized"
        invoice.issued_at = _aware(2026, 3, 1, 0, 5, offset)
        invoice.due_date = _aware(2026, 3, 15 + offset).date()
        invoice.updated_at = _aware(2026, 3, 1, 0, 6)
        invoice.taxes = [{"name": "VAT", "rate": "20", "amount": f"{offset}.00"}]
        invoice.total = Decimal("10.000001") + offset


def test_rows_update_writes_what_bulk_update_writes():
    ours, theirs = _drafts(3), _drafts(3)
    untouched = _drafts(1)[0]
    _finalize_in_memory(ours, 900)
    _finalize_in_memory(theirs, 950)

    assert rows_update(Invoice, ours, FINALIZED) == 3
    Invoice.objects.bulk_update(theirs, FINALIZED)

    for mine, reference in zip(ours, theirs, strict=True):
        mine, reference = Invoice.objects.get(pk=mine.pk), Invoice.objects.get(pk=reference.pk)
        for name in ["status", "issued_at", "due_date", "updated_at", "taxes", "total"]:
            assert getattr(mine, name) == getattr(reference, name), name
    assert [Invoice.objects.get(pk=invoice.pk).number for invoice in ours] == [
        "INV-2026-000900",
        "INV-2026-000901",
        "INV-2026-000902",
    ]
    assert Invoice.objects.get(pk=untouched.pk).status == "draft"


def test_rows_update_refused_by_a_constraint_is_an_integrity_error_and_changes_nothing():
    taken = FinalizedInvoiceFactory().number
    invoices = _drafts(2)
    _finalize_in_memory(invoices, 700)
    invoices[1].number = taken
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_update(Invoice, invoices, ["number", "status"])
    saved = Invoice.objects.filter(pk__in=[invoice.pk for invoice in invoices])
    assert set(saved.values_list("status", flat=True)) == {"draft"}


def test_rows_update_of_nothing_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_update(Invoice, [], ["status"]) == 0


def _fields(row, leave_out=("id", "created_at")) -> dict:
    return {
        field.attname: getattr(row, field.attname)
        for field in type(row)._meta.concrete_fields
        if field.attname not in leave_out
    }


def test_values_insert_saves_what_bulk_create_saves_of_the_same_values():
    """The tuples the close writes (COPY on PostgreSQL) against instances of the same values
    through bulk_create (what SQLite runs), field by field; fields left out take defaults."""
    invoice = FinalizedInvoiceFactory()
    fields = ("invoice_id", "position", "kind", "description", "quantity", "amount", "breakdown")
    fields += ("usage_start", "usage_end")
    rows = [
        (invoice.pk, 0, "usage", "API calls\\ a\tb", Decimal("2500.5"), Decimal("1600.00"))
        + ({"rows": [{"tier": 1, "amount": "800.00"}], "note": "a\tb\n"},)
        + (_aware(2026, 1, 1), _aware(2026, 2, 1)),
        (invoice.pk, 1, "base_fee", "Fee", Decimal("1"), Decimal("29.00"), {}, None, None),
    ]
    ids = values_insert(InvoiceLine, fields, rows)
    twins = InvoiceLine.objects.bulk_create(
        InvoiceLine(**dict(zip(fields, row, strict=True))) for row in rows
    )

    assert len(ids) == 2 and ids[0] < ids[1]
    for line_id, twin in zip(ids, twins, strict=True):
        saved, reference = InvoiceLine.objects.get(pk=line_id), InvoiceLine.objects.get(pk=twin.pk)
        assert _fields(saved) == _fields(reference)
    assert InvoiceLine.objects.get(pk=ids[0]).breakdown["note"] == "a\tb\n"
    # Left out: the discount's default, a null unit price, no plan.
    assert _fields(InvoiceLine.objects.get(pk=ids[1]))["discount"] == Decimal("0")


def test_values_insert_fills_auto_dates_and_refuses_the_key():
    invoice = FinalizedInvoiceFactory()
    fields = ("source", "invoice_id", "customer_id", "currency", "method", "amount")
    fields += ("billed_on", "billed_month")
    row = ("invoice_line", invoice.pk, invoice.customer_id, "USD", "point_in_time")
    row += (Decimal("29.00"), _aware(2026, 2, 1).date(), _aware(2026, 2, 1).date())
    (schedule_id,) = values_insert(RevenueSchedule, fields, [row])
    twin = RevenueSchedule.objects.bulk_create(
        [RevenueSchedule(**dict(zip(fields, row, strict=True)))]
    )[0]

    saved = RevenueSchedule.objects.get(pk=schedule_id)
    assert _fields(saved) == _fields(RevenueSchedule.objects.get(pk=twin.pk))
    assert saved.created_at is not None and saved.service_start is None
    with pytest.raises(ValueError):
        values_insert(RevenueSchedule, ("id", *fields), [(1, *row)])


@isolate_apps("billing")
def test_values_insert_refuses_to_repeat_a_unique_callable_default():
    # One default serves every row of the statement: a unique one computed per row must be given.
    class Tokened(models.Model):
        token = models.CharField(max_length=36, unique=True, default=lambda: "t")
        note = models.CharField(max_length=10)

        class Meta:
            app_label = "billing"

        def __str__(self) -> str:
            return self.note

    with pytest.raises(ValueError, match="unique field with a callable default"):
        values_insert(Tokened, ("note",), [("a",), ("b",)])


def test_values_insert_of_nothing_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert values_insert(InvoiceLine, ("invoice_id",), []) == []
