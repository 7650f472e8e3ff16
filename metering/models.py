"""Usage events: immutable, deduplicated on (external_customer_id, event_id)."""

import json
from decimal import Decimal

from django.db import models
from django.db.models import Q


class ExactJSONDecoder(json.JSONDecoder):
    """Reads JSON numbers with a fraction or exponent as Decimal, so stored values stay exact."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


class Event(models.Model):
    """One thing a customer of ours did, as their system reported it. Never edited."""

    event_id = models.CharField(
        max_length=255, help_text="Idempotency key, unique per customer (generated when absent)."
    )
    event_name = models.CharField(max_length=200)
    external_customer_id = models.CharField(max_length=255)
    timestamp = models.DateTimeField(help_text="When it happened (UTC).")
    properties = models.JSONField(default=dict, blank=True, decoder=ExactJSONDecoder)
    received_at = models.DateTimeField(help_text="When Tally stored it.")
    is_late = models.BooleanField(
        default=False,
        help_text="Arrived for a period whose invoice was already finalized.",
    )
    # Excluded from billing by an operator (a bad event that blocked a close): usage reads skip
    # it. Who, when and why are kept on the row itself; the event is never deleted.
    excluded_at = models.DateTimeField(null=True, blank=True)
    excluded_reason = models.TextField(blank=True, db_default="")
    excluded_by = models.CharField(max_length=150, blank=True, db_default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_customer_id", "event_id"],
                name="event_customer_event_id_unique",
            ),
        ]
        indexes = [
            # usage_for_period / events_for_usage / usage explorer: one customer, one event
            # name, a time window.
            models.Index(
                fields=["external_customer_id", "event_name", "timestamp"],
                name="event_customer_name_time_idx",
            ),
            # The event debugger lists the most recent events first.
            models.Index(fields=["received_at"], name="event_received_at_idx"),
            # Late events are rare: a partial index finds them without weighing on ingestion.
            models.Index(
                fields=["external_customer_id", "timestamp"],
                name="event_late_idx",
                condition=Q(is_late=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} · {self.external_customer_id} · {self.event_id}"
