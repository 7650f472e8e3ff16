"""Helpers for the invoices tests: UTC moments, demo catalog rows, events, invoices as tuples."""

from datetime import UTC, datetime
from decimal import Decimal

from catalog.models import Meter
from catalog.services import meter_create, plan_create
from customers.services import customer_create, subscription_create
from invoices.models import Invoice
from metering.services import events_ingest


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


METERS = {
    "credits": {"event_name": "credits_used", "aggregation": "sum", "field": "credits"},
    "api_calls": {"event_name": "api_call", "aggregation": "count"},
    "storage_gb": {"event_name": "storage", "aggregation": "max", "field": "gb"},
    "tokens": {"event_name": "llm_tokens", "aggregation": "sum", "field": "tokens"},
}


def meter(code: str) -> Meter:
    existing = Meter.objects.filter(code=code).first()
    if existing is not None:
        return existing
    return meter_create(code=code, name=code.replace("_", " ").title(), **METERS[code])


def plan(code: str, *, charges=(), **fields):
    """A plan (monthly USD by default) whose charges name meters of METERS by code."""
    for charge in charges:
        meter(charge["meter"])
    values = {"name": code.title(), "currency": "USD", "interval": "month", **fields}
    return plan_create(code=code, charges=list(charges), **values)


def pro_plan():
    return plan(
        "pro",
        name="Pro",
        base_amount="29.00",
        base_timing="in_arrears",
        charges=[
            {
                "meter": "credits",
                "description": "Credits",
                "model": "per_unit",
                "unit_amount": "0.25",
            },
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "per_unit",
                "unit_amount": "0.01",
            },
            {
                "meter": "storage_gb",
                "description": "Storage",
                "model": "per_unit",
                "unit_amount": "1.80",
            },
        ],
    )


def scale_plan():
    return plan(
        "scale",
        name="Scale",
        base_amount="199.00",
        base_timing="in_advance",
        charges=[
            {
                "meter": "api_calls",
                "description": "API calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_amount": "1.50"},
                    {"up_to": None, "unit_amount": "1.35"},
                ],
            }
        ],
    )


def customer(external_id: str = "acme", **fields):
    values = {"name": f"{external_id.title()} Inc.", "email": f"billing@{external_id}.example"}
    return customer_create(external_id=external_id, **{**values, **fields})


def subscribe(customer, plan, *, started_at: datetime, at: datetime | None = None, **fields):
    return subscription_create(
        customer=customer, plan=plan, started_at=started_at, at=at or started_at, **fields
    )


def send(external_id: str, event_name: str, timestamp: datetime, *, at=None, count=1, **props):
    """`count` events at `timestamp`, received at `at` (default: the timestamp)."""
    stamp = timestamp.isoformat()
    payloads = [
        {
            "event_id": f"{event_name}-{stamp}-{index}-{sorted(props.items())}",
            "event_name": event_name,
            "external_customer_id": external_id,
            "timestamp": stamp,
            "properties": dict(props),
        }
        for index in range(count)
    ]
    return events_ingest(payloads=payloads, at=at or timestamp)


def lines_of(invoice: Invoice) -> list[tuple[str, str, Decimal]]:
    """(kind, description, amount) of each line, in order."""
    return [
        (line.kind, line.description, line.amount) for line in invoice.lines.order_by("position")
    ]


def amounts(invoice: Invoice) -> list[Decimal]:
    return [line.amount for line in invoice.lines.order_by("position")]
