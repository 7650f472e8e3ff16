"""`make demo` without Stripe keys: a paid, a partly paid and an overdue invoice."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoices.balances import invoice_balances
from invoices.models import Invoice
from payments.models import Payment
from payments.selectors import invoices_overdue

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_paid_a_partly_paid_and_an_overdue_invoice():
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    invoices = list(Invoice.objects.exclude(status="draft"))
    balances = invoice_balances(invoices=invoices)
    states = {balances[invoice.pk].payment_status for invoice in invoices}
    assert {"paid", "partially_paid", "unpaid"} <= states
    assert Payment.objects.filter(reference__startswith="DEMO-WIRE").count() == 2
    overdue = list(invoices_overdue(today=timezone.now().date()))
    assert [invoice.customer.external_id for invoice in overdue] == ["initech"]
    numbers = list(Invoice.objects.order_by("issued_at", "pk").values_list("number", flat=True))
    assert numbers == sorted(numbers)  # numbered in issue order
