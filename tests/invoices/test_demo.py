"""The demo seed issues the demo customers' due invoices once."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoices import demo
from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def test_seed_demo_issues_the_due_invoices_and_a_second_run_nothing():
    call_command("seed_demo")
    first = Invoice.objects.count()

    later = timezone.now() + timedelta(hours=3)
    summary = demo.seed(at=later)
    again = demo.seed(at=later)

    # Umbrella is on Scale ($199 in advance): its opening invoice exists from the first run.
    assert first >= 1
    assert Invoice.objects.filter(customer__external_id="umbrella").count() == 1
    # Hooli is on the hourly demo plan: three hours later, its periods have closed.
    assert Invoice.objects.filter(customer__external_id="hooli").count() >= 3
    assert summary.startswith("Invoices: ") and "INV-" in summary
    assert again == "Invoices: 0 issued (none due)."
    assert Invoice.objects.filter(status="draft", number__isnull=False).count() == 0
