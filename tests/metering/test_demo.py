"""The demo usage: acme's quantities match the worked example, and a re-run adds nothing."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog import demo as catalog_demo
from catalog.models import Meter
from customers import demo as customers_demo
from metering import demo
from metering.models import Event
from metering.selectors import usage_for_period

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)
MONTH = {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 4, 1, tzinfo=UTC)}


def quantity(code: str, customer: str, **window) -> Decimal:
    meter = Meter.objects.get(code=code)
    return usage_for_period(
        meter=meter, external_customer_id=customer, **(window or MONTH)
    ).quantity


def test_demo_usage_matches_the_worked_examples_and_is_idempotent():
    catalog_demo.seed(at=AT)
    customers_demo.seed(at=AT)
    summary = demo.seed(at=AT)
    stored = Event.objects.count()
    assert summary == f"Metering: {stored} demo event(s) stored (0 already there)."
    assert quantity("credits", "acme") == Decimal("50")
    assert quantity("api_calls", "acme") == Decimal("1000")
    assert quantity("storage_gb", "acme") == Decimal("5")
    assert quantity("api_calls", "globex") == Decimal("2500")
    assert quantity("credits", "initech") == Decimal("15")
    hour = {
        "start": datetime(2026, 3, 15, 12, tzinfo=UTC),
        "end": datetime(2026, 3, 15, 13, tzinfo=UTC),
    }
    assert quantity("api_calls", "hooli", **hour) == Decimal("40")
    assert Event.objects.filter(external_customer_id="wayne").exists()
    assert max(Event.objects.values_list("timestamp", flat=True)) <= AT

    assert demo.seed(at=AT) == f"Metering: 0 demo event(s) stored ({stored} already there)."
    assert Event.objects.count() == stored
