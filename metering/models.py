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
            # The event debugger lists the most recent events first...
            models.Index(fields=["received_at"], name="event_received_at_idx"),
            # ...also of one customer (its search), and finds an event by its id alone.
            models.Index(
                fields=["external_customer_id", "received_at"],
                name="event_customer_received_idx",
            ),
            models.Index(fields=["event_id"], name="event_event_id_idx"),
            # Late events are rare: a partial index finds them without weighing on ingestion.
            models.Index(
                fields=["external_customer_id", "timestamp"],
                name="event_late_idx",
                condition=Q(is_late=True),
            ),
            # ...and the debugger lists them newest first (migration 0008, built per partition).
            models.Index(
                fields=["received_at"],
                name="event_late_received_idx",
                condition=Q(is_late=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} · {self.external_customer_id} · {self.event_id}"


class EventKey(models.Model):
    """The deduplication key of a stored event, on PostgreSQL (docs/scaling.md, "Partitioned
    events").

    There the events table is partitioned by month, and a unique key of a partitioned table
    must include the partition key (the timestamp): the same event id sent twice with two
    timestamps would slip through. This small unpartitioned table holds the key instead; the
    ingest statement inserts here first (ON CONFLICT DO NOTHING) and stores only the events
    whose key it inserted. Keys outlive archived partitions, so an archived event sent again
    is still a duplicate. On SQLite the events table keeps its own unique constraint and this
    table stays empty.
    """

    pk = models.CompositePrimaryKey("external_customer_id", "event_id")
    external_customer_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    timestamp = models.DateTimeField(help_text="The event's timestamp: which partition holds it.")

    def __str__(self) -> str:
        return f"{self.external_customer_id} · {self.event_id}"


class ExactDecimalField(models.Field):
    """An exact number of any size and scale: `numeric` on PostgreSQL, decimal text on SQLite.

    Rollup sums must not round where the raw sum over the events would not (docs/scaling.md).
    """

    def db_type(self, connection) -> str:
        return "numeric" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(value)

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return value if connection.vendor == "postgresql" else str(Decimal(value))


class UsageRollup(models.Model):
    """One meter's figures for one customer over one UTC hour (and one `group_by` value).

    Computed from the raw events by `metering.rollups` with the meter's own condition, so a
    whole hour read from here gives exactly what its events give (docs/scaling.md).
    """

    meter = models.ForeignKey("catalog.Meter", on_delete=models.CASCADE, related_name="+")
    external_customer_id = models.CharField(max_length=255)
    bucket_start = models.DateTimeField(help_text="Start of the UTC hour.")
    group_value = models.TextField(null=True, help_text="The meter's group_by value (None: none).")
    event_count = models.BigIntegerField()
    quantity_sum = ExactDecimalField(null=True)
    quantity_min = ExactDecimalField(null=True)
    quantity_max = ExactDecimalField(null=True)
    # `latest`: the last counted event of the hour, by timestamp then arrival (its id).
    latest_timestamp = models.DateTimeField(null=True)
    latest_event_pk = models.BigIntegerField(null=True)
    latest_value = ExactDecimalField(null=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["meter", "external_customer_id", "bucket_start"],
                name="rollup_meter_customer_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="rollup_event_count_positive", condition=Q(event_count__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} · {self.external_customer_id} · {self.bucket_start:%Y-%m-%d %H}h"


class MeterCoverage(models.Model):
    """A meter's rollups in one store, and the definition (`metering.rollups.meter_definition`)
    they were built under: the two stores' coverage tables below."""

    meter = models.OneToOneField("catalog.Meter", on_delete=models.CASCADE, related_name="+")
    definition = models.CharField(max_length=64, blank=True)
    built_at = models.DateTimeField(null=True)

    class Meta:
        abstract = True


class RollupCoverage(MeterCoverage):
    """A meter whose rollups are complete for its current definition (see `definition`).

    Reads use rollups only for a meter covered under the definition it has now: a new or
    edited meter is read from raw events until its rollups are rebuilt. Its row is also the
    lock that serializes every write to the meter's rollups.
    """

    def __str__(self) -> str:
        return f"rollups of meter {self.meter_id}"


class RollupDirtyBucket(models.Model):
    """An hour of a customer's events of one name whose rollups may be stale.

    Appended in the ingest transaction (no lock shared between ingest requests); removed by
    the refresh that recomputed the hour. Reads take a dirty hour from raw events.
    """

    external_customer_id = models.CharField(max_length=255)
    event_name = models.CharField(max_length=200)
    bucket_start = models.DateTimeField()

    class Meta:
        # Every read looks marks up by customer (docs/scaling.md, "How rollups are kept
        # current"): one entry per mark in a small index of customers, not a (customer, event
        # name, hour) key per mark, which a backfill's marks scatter over a large index.
        indexes = [models.Index(fields=["external_customer_id"], name="rollup_dirty_customer_idx")]

    def __str__(self) -> str:
        return f"{self.external_customer_id} · {self.event_name} · {self.bucket_start:%Y-%m-%d %H}h"


class RollupHorizon(models.Model):
    """Up to where the hours are sealed (one row): before `sealed_until`, every event that
    ingestion did not mark dirty is in the rollups.

    On PostgreSQL, ingestion marks no hour for an on-time event (a timestamp in the current
    hour of the database's clock, sent now); the refresh task seals each hour once no
    transaction that began before its end is still open, recomputing the customers that
    received events in it. Reads take the hours from `sealed_until` on from raw events
    (docs/scaling.md, "Sealed hours").
    """

    sealed_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"rollups sealed until {self.sealed_until:%Y-%m-%d %H}h"


class EntitlementAlert(models.Model):
    """A usage alert of a feature grant that fired: `threshold` percent of the limit reached in
    the period starting `period_start`. Unique per (subscription, feature, period, threshold):
    each alert goes out once per period (docs/api.md, "Entitlements")."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="entitlement_alerts"
    )
    subscription = models.ForeignKey(
        "customers.Subscription", on_delete=models.CASCADE, related_name="entitlement_alerts"
    )
    feature = models.ForeignKey("catalog.Feature", on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    threshold = models.PositiveIntegerField(help_text="Percent of the limit.")
    limit = models.DecimalField(max_digits=24, decimal_places=6)
    usage = models.DecimalField(max_digits=24, decimal_places=6)
    notified = models.BooleanField(
        default=True,
        help_text="Off for a lower threshold crossed in the same check as a higher one (one "
        "message says the higher).",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "feature", "period_start", "threshold"],
                name="entitlement_alert_once_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.feature.code} {self.threshold}% ({self.customer.external_id})"

    @property
    def percent(self) -> int:
        return self.threshold


class ClickHouseOutbox(models.Model):
    """An event (new, or changed by an operator) not yet written to ClickHouse.

    Appended in the transaction that stores or changes the event (only under
    EVENTS_BACKEND=clickhouse); removed by the sync that wrote it. Usage reads take the
    outbox's events from the database, so an event counts as soon as it is stored
    (docs/scaling.md, "ClickHouse").
    """

    event_pk = models.BigIntegerField()
    external_customer_id = models.CharField(max_length=255)

    class Meta:
        indexes = [
            models.Index(fields=["external_customer_id"], name="clickhouse_outbox_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_pk} for ClickHouse"


class ClickHouseRollupCoverage(MeterCoverage):
    """A meter whose ClickHouse hourly rollups are kept (and, once `built_at` is set, read)
    under its current definition (docs/scaling.md, "Hourly rollups in ClickHouse").

    `definition` set and `built_at` empty: the rebuild is running; syncs already keep the
    meter's hours current, reads still go to raw events. A meter without a row, or whose
    definition changed since, is read from raw events until `clickhouse_events
    --rebuild-rollups` builds it.
    """

    def __str__(self) -> str:
        return f"ClickHouse rollups of meter {self.meter_id}"


class ClickHouseRollupVersion(models.Model):
    """The version source of ClickHouse rollup rows: each computation inserts a row (and
    deletes it) for an id from the database's sequence, increasing across processes, so the
    row computed last (having seen every insert before it) has the highest version."""

    id = models.BigAutoField(primary_key=True)

    def __str__(self) -> str:
        return f"ClickHouse rollup version {self.pk}"
