"""The demo seed issues the demo customers' due invoices once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from invoices import demo
from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def test_seed_demo_issues_the_due_invoices_and_a_second_run_nothing():
    call_command("seed_demo")
    first = Invoice.objects.count()

    # The demo starts a period back, so the seed stories are already invoiced.
    totals = {
        invoice.customer.external_id: invoice.total
        for invoice in Invoice.objects.filter(kind="subscription").exclude(
            period_start=models.F("period_end")
        )
        if invoice.customer.external_id != "hooli"
    }
    assert totals == {
        "acme": Decimal("60.50"),  # Pro: $29 + 50 credits + 1,000 calls + 5 GB
        "globex": Decimal("1600.00"),  # graduated 2,500 calls
        "initech": Decimal("5.00"),  # 15 credits, 10 free
        "umbrella": Decimal("1969.00"),  # 1,200 calls on 1.50/1.35 tiers + next month's $199
    }

    later = timezone.now() + timedelta(hours=3)
    summary = demo.seed(at=later)
    again = demo.seed(at=later)

    # Umbrella is on Scale ($199 in advance): its opening invoice and last month's close.
    assert first >= 5
    assert Invoice.objects.filter(customer__external_id="umbrella").count() == 2
    # Hooli is on the hourly demo plan: three hours later, three more periods have closed.
    assert Invoice.objects.filter(customer__external_id="hooli").count() >= 6
    assert summary.startswith("Invoices: ") and "INV-" in summary
    assert again == "Invoices: 0 issued (none due)."
    assert Invoice.objects.filter(status="draft", number__isnull=False).count() == 0
