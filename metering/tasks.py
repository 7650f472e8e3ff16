"""django-q2 entry points of the metering app (thin wrappers over services)."""

from django.utils import timezone

from metering.rollups import rollups_refresh


def refresh_rollups_task() -> str:
    """The "refresh-usage-rollups" schedule (every minute): recompute the dirty hours."""
    return rollups_refresh(at=timezone.now()).summary()


def entitlement_alerts_task() -> str:
    """The "entitlement-alerts" schedule (every minute): usage alerts reached, once a period."""
    from metering.entitlement_alerts import entitlement_alerts_check

    return f"{entitlement_alerts_check(at=timezone.now())} usage alert(s) written"


def event_partitions_task() -> str:
    """The "event-partitions" schedule (daily): this month's and the next months' partitions
    of the events table, on PostgreSQL (metering.partitions)."""
    from metering.partitions import partitions_ensure

    created = partitions_ensure(at=timezone.now())
    return f"{len(created)} event partition(s) created: {', '.join(created) or 'none'}"


def sync_clickhouse_task() -> str:
    """The "sync-clickhouse" schedule (every minute): write the outbox's events to ClickHouse.
    Does nothing unless EVENTS_BACKEND=clickhouse (docs/operations.md)."""
    from metering.clickhouse import clickhouse_enabled, clickhouse_sync

    if not clickhouse_enabled():
        return "EVENTS_BACKEND is not clickhouse: nothing to sync"
    return clickhouse_sync().summary()
