"""The close's bulk usage read equals the one-by-one read, for every aggregation."""

from decimal import Decimal

import pytest

from catalog.services import meter_create
from invoices.services import cycles_close
from invoices.services.inputs import BuildContext
from invoices.services.prefetch import usage_prime_due
from metering.selectors import Usage, usage_by_customer, usage_for_period
from tests.invoices.helpers import customer, plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

AGGREGATIONS = ["count", "sum", "max", "min", "avg", "unique_count", "latest"]


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_usage_by_customer_equals_usage_for_period(aggregation):
    meter = meter_create(
        code=f"m-{aggregation}",
        name=aggregation,
        event_name="used",
        aggregation=aggregation,
        field="" if aggregation == "count" else "n",
        filters={"region": ["eu"]},
    )
    for index, (customer_id, n) in enumerate([("a", 3), ("a", 5), ("b", 7), ("a", 5), ("c", 1)]):
        send(customer_id, "used", utc(2026, 3, 2, index), n=n, region="eu")
    send("a", "used", utc(2026, 3, 3), n=100, region="us")  # filtered out
    send("b", "used", utc(2026, 4, 3), n=100, region="eu")  # outside the window
    window = {"start": utc(2026, 3, 1), "end": utc(2026, 4, 1)}

    bulk = usage_by_customer(meter=meter, external_customer_ids=["a", "b", "c", "d"], **window)

    for customer_id in ("a", "b", "c"):
        one = usage_for_period(meter=meter, external_customer_id=customer_id, **window)
        assert bulk[customer_id] == one
    assert "d" not in bulk


def test_primed_usage_gives_the_same_invoices_as_reading_one_by_one():
    metered = plan(
        "metered",
        charges=[
            {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"},
            {"meter": "storage_gb", "model": "per_unit", "unit_amount": "2"},
        ],
    )
    subscriptions = [
        subscribe(customer(name), metered, started_at=utc(2026, 3, 1)) for name in ("a", "b")
    ]
    send("a", "api_call", utc(2026, 3, 5), count=40)
    send("a", "storage", utc(2026, 3, 6), gb=3)
    send("b", "storage", utc(2026, 3, 6), gb=2)
    ctx = BuildContext()

    primed = usage_prime_due(ctx=ctx, subscriptions=subscriptions, at=utc(2026, 4, 1))

    assert primed == 4
    api_calls = metered.charges.get(meter__code="api_calls").meter
    assert ctx.usage.read(
        meter=api_calls, external_customer_id="a", start=utc(2026, 3, 1), end=utc(2026, 4, 1)
    ) == Usage(quantity=Decimal("40"), event_count=40)
    report = cycles_close(at=utc(2026, 4, 1), ctx=ctx)
    assert sorted(invoice.total for invoice in report.created) == [Decimal("4.00"), Decimal("6.40")]
