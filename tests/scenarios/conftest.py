"""Scenario fixtures: an operator's API client and a clock, so the stories happen on set dates.

The clock patches django.utils.timezone.now: the API stamps events as received, subscriptions
as created and invoices as issued at the story's moment, as if the story really happened then.
"""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.management import call_command


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = utc(2026, 1, 1)

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock():
    current = Clock()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: current.now):
        yield current


class Operator:
    """What an integration and an operator do, through the public API and the command."""

    def __init__(self, client, clock: Clock) -> None:
        self.client = client
        self.clock = clock

    def post(self, path: str, body: dict, *, status: int = 201):
        response = self.client.post(path, body, format="json")
        assert response.status_code == status, response.content
        return response.json()

    def meter(self, **fields):
        return self.post("/api/v1/meters", fields)

    def plan(self, **fields):
        return self.post("/api/v1/plans", {"currency": "USD", "interval": "month", **fields})

    def customer(self, external_id: str, **fields):
        return self.post(
            "/api/v1/customers", {"external_id": external_id, "name": external_id.title(), **fields}
        )

    def subscribe(self, external_id: str, plan: str, started_at: datetime, **fields):
        self.clock.set(max(self.clock.now, started_at))
        body = {"customer": external_id, "plan": plan, "started_at": started_at.isoformat()}
        return self.post("/api/v1/subscriptions", {**body, **fields})

    def change_plan(self, subscription_id: int, plan: str, *, at: datetime):
        self.clock.set(at)
        return self.post(
            f"/api/v1/subscriptions/{subscription_id}/change-plan", {"plan": plan}, status=200
        )

    def events(
        self,
        external_id: str,
        event_name: str,
        timestamp: datetime,
        *,
        count: int = 1,
        received_at: datetime | None = None,
        **props,
    ):
        """`count` events at `timestamp`, sent then or at `received_at` (1,000 per batch)."""
        self.clock.set(received_at or timestamp)
        events = [
            {
                "event_id": f"{event_name}-{timestamp.isoformat()}-{index}",
                "event_name": event_name,
                "external_customer_id": external_id,
                "timestamp": timestamp.isoformat(),
                "properties": props,
            }
            for index in range(count)
        ]
        for start in range(0, count, 1000):
            body = {"events": events[start : start + 1000]}
            assert self.post("/api/v1/events/batch", body, status=202)["duplicates"] == 0

    def close_cycles(self, at: datetime) -> None:
        self.clock.set(at)
        call_command("close_cycles", "--at", at.isoformat())

    def invoices(self, external_id: str) -> list[dict]:
        """The customer's invoices, oldest first."""
        response = self.client.get(f"/api/v1/invoices?customer={external_id}")
        assert response.status_code == 200
        return list(reversed(response.json()))


@pytest.fixture
def operator(api_client, clock) -> Operator:
    return Operator(api_client, clock)


def lines(invoice: dict) -> list[tuple[str, str]]:
    return [(line["description"], line["amount"]) for line in invoice["lines"]]
