"""Finalize, void, mark uncollectible: what each allows, and gapless numbers per year."""

from decimal import Decimal

import pytest
from django.db import transaction

from billing.errors import AppError
from invoices.models import Invoice, InvoiceSequence
from invoices.services import (
    cycles_close,
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_void,
)
from invoices.services.numbering import invoice_number_next
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    subscribe(
        customer("acme", invoice_grace_period_hours=48, net_payment_terms_days=30),
        pro_plan(),
        started_at=utc(2026, 3, 1),
    )
    send("acme", "api_call", utc(2026, 3, 2), count=100)
    cycles_close(at=utc(2026, 4, 1))
    return Invoice.objects.get(status="draft")


def test_finalizing_a_draft_refreshes_numbers_and_dates_it(draft):
    send("acme", "api_call", utc(2026, 3, 31), count=100, at=utc(2026, 4, 1, 8))

    invoice = invoice_finalize(invoice=draft, at=utc(2026, 4, 1, 9, 30))

    assert invoice.status == "finalized"
    assert invoice.number == "INV-2026-000001"
    assert invoice.issued_at == utc(2026, 4, 1, 9, 30)
    assert invoice.due_date == utc(2026, 5, 1).date()  # net 30
    assert invoice.total == Decimal("31.00")


def test_only_a_draft_can_be_finalized(draft):
    invoice_finalize(invoice=draft, at=utc(2026, 4, 2))

    with pytest.raises(AppError, match="only a draft can be finalized"):
        invoice_finalize(invoice=draft, at=utc(2026, 4, 3))
    draft.refresh_from_db()
    assert (draft.number, draft.issued_at) == ("INV-2026-000001", utc(2026, 4, 2))


def test_void_a_draft_keeps_it_unnumbered_and_the_close_leaves_it(draft):
    invoice = invoice_void(invoice=draft, at=utc(2026, 4, 1, 5))
    cycles_close(at=utc(2026, 4, 5))

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.voided_at) == (
        "void",
        None,
        utc(2026, 4, 1, 5),
    )
    assert Invoice.objects.count() == 1
    with pytest.raises(AppError, match="only a draft, finalized or uncollectible"):
        invoice_void(invoice=invoice, at=utc(2026, 4, 6))


def test_mark_uncollectible_then_void(draft):
    invoice = invoice_finalize(invoice=draft, at=utc(2026, 4, 2))
    with pytest.raises(AppError, match="only a finalized invoice"):
        invoice_mark_uncollectible(
            invoice=Invoice.objects.create(
                customer=invoice.customer, kind="one_off", currency="USD"
            ),
            at=utc(2026, 4, 3),
        )

    invoice = invoice_mark_uncollectible(invoice=invoice, at=utc(2026, 5, 2))
    assert invoice.status == "uncollectible"
    invoice = invoice_void(invoice=invoice, at=utc(2026, 6, 1))
    assert (invoice.status, invoice.number) == ("void", "INV-2026-000001")


def test_numbers_are_gapless_per_year_and_given_back_on_rollback():
    with transaction.atomic():
        first = invoice_number_next(year=2026)
        second = invoice_number_next(year=2026)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            invoice_number_next(year=2026)
            raise RuntimeError("the finalization failed")
    with transaction.atomic():
        third = invoice_number_next(year=2026)
        next_year = invoice_number_next(year=2027)

    assert (first, second, third) == ("INV-2026-000001", "INV-2026-000002", "INV-2026-000003")
    assert next_year == "INV-2027-000001"
    assert InvoiceSequence.objects.get(year=2026).last_number == 3
