"""The upcoming invoice reads every charge's usage in one round of queries (docs/performance.md,
"Upcoming invoice"): its statements do not grow with the number of charges, and it shows what
the one-by-one reads show."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Meter
from invoices.selectors import upcoming_invoice
from metering.rollups import rollups_rebuild
from metering.selectors import usage_for_period
from tests.invoices.helpers import customer, plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

CHARGES = [
    {"meter": "api_calls", "description": "API calls", "model": "per_unit", "unit_amount": "0.01"},
    {
        "meter": "tokens",
        "description": "Tokens",
        "model": "graduated",
        "tiers": [
            {"up_to": "1000", "unit_amount": "0.002"},
            {"up_to": None, "unit_amount": "0.001"},
        ],
    },
    {"meter": "credits", "description": "Credits", "model": "per_unit", "unit_amount": "0.25"},
    {"meter": "storage_gb", "description": "Storage", "model": "per_unit", "unit_amount": "1.80"},
]


def preview(charges: int, external_id: str):
    """A customer on a plan with the first `charges` charges, events in whole hours and at the
    period's partial edges (some hours dirty), rollups built; the preview and its statements."""
    priced = plan(
        f"p{charges}", base_amount="29.00", base_timing="in_arrears", charges=CHARGES[:charges]
    )
    buyer = customer(external_id)
    subscribe(buyer, priced, started_at=utc(2026, 3, 1, 10, 37))
    send(external_id, "api_call", utc(2026, 3, 1, 10, 40), count=3)  # partial first hour
    send(external_id, "api_call", utc(2026, 3, 2), count=7)
    send(external_id, "llm_tokens", utc(2026, 3, 3), tokens=1500)
    send(external_id, "credits_used", utc(2026, 3, 4), credits="2.5")
    send(external_id, "storage", utc(2026, 3, 5), gb=3)
    for meter in Meter.objects.all():
        rollups_rebuild(meter=meter, at=utc(2026, 3, 9))
    send(external_id, "api_call", utc(2026, 3, 8, 4), count=5)  # a dirty hour
    send(external_id, "credits_used", utc(2026, 3, 10, 5, 10), credits="1")  # the partial end
    with CaptureQueriesContext(connection) as queries:
        draft = upcoming_invoice(customer=buyer, at=utc(2026, 3, 10, 5, 30))
    return draft, len(queries.captured_queries)


def test_the_preview_reads_usage_in_one_round_whatever_the_number_of_charges():
    two, two_queries = preview(2, "acme")
    four, four_queries = preview(4, "globex")

    assert [(line.description, line.quantity, line.amount) for line in four.lines[:4]] == [
        ("API calls", Decimal("15"), Decimal("0.15")),
        ("Tokens", Decimal("1500"), Decimal("2.50")),
        ("Credits", Decimal("3.5"), Decimal("0.88")),
        ("Storage", Decimal("3"), Decimal("5.40")),
    ]
    assert (four.lines[4].kind, four.lines[4].amount) == ("base_fee", Decimal("29.00"))
    assert (two.total, four.total) == (Decimal("31.65"), Decimal("37.93"))
    assert four_queries == two_queries <= 12


def test_the_preview_shows_the_one_by_one_reads():
    draft, _ = preview(4, "acme")

    for line in draft.lines[:4]:  # the usage lines, read in one round
        alone = usage_for_period(
            meter=line.meter,
            external_customer_id="acme",
            start=line.usage_start,
            end=line.usage_end,
        )
        assert (line.quantity, line.breakdown["event_count"]) == (
            alone.quantity,
            alone.event_count,
        )
