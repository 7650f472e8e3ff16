"""Writes of the metering app: storing events, idempotently, in bulk."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.db import connection, transaction

from billing.errors import AppError, ErrorKind
from billing.preparing import prepared_statements
from metering.clickhouse import clickhouse_enabled, outbox_add
from metering.models import ClickHouseOutbox, Event, EventKey, RollupDirtyBucket
from metering.rollups import rollups_mark_dirty, rollups_refresh_range
from metering.validation import EventInvalid, EventRow, event_validate, loads

MAX_BATCH = 1000


@dataclass(frozen=True)
class IngestResult:
    """`accepted` events were stored; `duplicates` were already there (or repeated)."""

    accepted: int
    duplicates: int


class EventBatchInvalid(Exception):
    """Some events of an all-or-nothing batch are invalid; nothing was stored."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]):
        super().__init__(errors)
        self.errors = errors


def event_ingest(*, payload: object, at: datetime) -> IngestResult:
    """Store one event (raises EventInvalid with field errors)."""
    row = event_validate(payload=payload, at=at)
    accepted = _store_rows([row], received_at=at)
    return IngestResult(accepted=accepted, duplicates=1 - accepted)


def events_ingest(*, payloads: Sequence[object], at: datetime) -> IngestResult:
    """Store a batch, all or nothing: any invalid event raises EventBatchInvalid, keyed by index.

    Duplicates, within the batch or of stored events, are skipped by the database's unique key
    (on PostgreSQL the EventKey table's, as the events table is partitioned there; see
    `_insert_rows_postgresql`), so two requests at the same moment still store one event.
    """
    rows: list[EventRow] = []
    errors: dict[str, dict[str, list[str]]] = {}
    for index, payload in enumerate(payloads):
        try:
            rows.append(event_validate(payload=payload, at=at))
        except EventInvalid as error:
            errors[str(index)] = error.errors
    if errors:
        raise EventBatchInvalid(errors)
    return rows_ingest(rows=rows, at=at)


def rows_ingest(*, rows: list[EventRow], at: datetime) -> IngestResult:
    """Store validated rows (`events_ingest`'s, or `metering.batch_decoder`'s): the same
    statement and the same duplicate rules."""
    accepted = _store_rows(rows, received_at=at)
    return IngestResult(accepted=accepted, duplicates=len(rows) - accepted)


@dataclass
class BackfillReport:
    """What a backfill did: counts, and each rejected line with its reason."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0


def events_backfill(
    *,
    lines: Iterable[str],
    at: datetime,
    chunk_size: int = MAX_BATCH,
    on_chunk: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Store events from JSON lines (`manage.py ingest_events`), chunk by chunk.

    Same validation as the API, but a bad line is reported with its number and never stops the
    good ones. Blank lines are skipped.
    """
    report = BackfillReport()
    numbered = enumerate(lines, start=1)
    while True:
        chunk = list(islice(numbered, chunk_size))
        if not chunk:
            break
        rows: list[EventRow] = []
        for line_number, line in chunk:
            report.lines = line_number
            if not line.strip():
                continue
            try:
                rows.append(event_validate(payload=loads(line), at=at))
            except EventInvalid as error:
                report.rejected.append((line_number, _describe(error.errors)))
            except (ValueError, RecursionError) as error:
                report.rejected.append((line_number, f"not valid JSON ({error})"))
        accepted = _store_rows(rows, received_at=at)
        report.accepted += accepted
        report.duplicates += len(rows) - accepted
        if on_chunk is not None:
            on_chunk(report)
    return report


def _describe(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def _store_rows(rows: list[EventRow], *, received_at: datetime) -> int:
    """Insert the rows and, in the same transaction, mark the rollup hours they touch as
    dirty (appended marks, no lock shared with other requests; docs/scaling.md)."""
    if connection.vendor == "postgresql":
        # One statement stores the events, their keys, the rollup marks (and the ClickHouse
        # outbox rows): atomic on its own. Outside a transaction it then commits by itself,
        # without the BEGIN and COMMIT round trips of an atomic block (docs/performance.md).
        return _insert_rows(rows, received_at=received_at)
    with transaction.atomic():
        accepted = _insert_rows(rows, received_at=received_at)
        if accepted:
            rollups_mark_dirty(
                buckets=((row.external_customer_id, row.event_name, row.timestamp) for row in rows)
            )
    return accepted


_COLUMNS = ("event_id", "event_name", "external_customer_id", "timestamp", "properties")


def _insert_rows(rows: list[EventRow], *, received_at: datetime) -> int:
    """Insert the rows, skipping those already stored; returns how many rows were new."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    columns = ", ".join(quote(name) for name in (*_COLUMNS, "received_at", "is_late"))
    if connection.vendor == "postgresql":
        return _insert_rows_postgresql(rows, received_at=received_at, table=table, columns=columns)
    conflict = f"({quote('external_customer_id')}, {quote('event_id')})"
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    # SQLite runs one write transaction at a time: the rows above the highest id are ours.
    queue = clickhouse_enabled()
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() if queue else 0
    accepted = _insert_rows_sqlite(
        rows, received=received, table=table, columns=columns, conflict=conflict, adapt=adapt
    )
    if accepted and queue:
        outbox_add(
            events=Event.objects.filter(pk__gt=before or 0).values_list(
                "pk", "external_customer_id"
            )
        )
    return accepted


def _insert_rows_sqlite(rows, *, received, table, columns, conflict, adapt) -> int:
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT {conflict} DO NOTHING",
            [
                (
                    row.event_id,
                    row.event_name,
                    row.external_customer_id,
                    adapt(row.timestamp),
                    row.properties_json,
                    received,
                    False,
                )
                for row in rows
            ],
        )
        return cursor.rowcount


# An event needs no dirty mark when it is on time by the database's clock (`now()`, the
# transaction's start): its timestamp in the current UTC hour (and not 10 minutes or more
# ahead), sent in a request received within a minute of now. Its hour is then not sealed yet:
# `metering.rollups.rollups_seal` seals an hour only once every transaction that began before
# the hour's end is over, and finds its customers among the events received from 15 minutes
# before the hour to 5 minutes after it (docs/scaling.md, "Sealed hours").
ON_TIME = (
    "%b::timestamptz BETWEEN now() - interval '1 minute' AND now() + interval '1 minute' "
    "AND timestamp >= date_trunc('hour', now(), 'UTC') "
    "AND timestamp < now() + interval '10 minutes'"
)


def _insert_rows_postgresql(rows, *, received_at, table, columns) -> int:
    """One statement per batch: five arrays unnested server-side, no per-row round trips.

    The events table is partitioned by month there, so deduplication is the EventKey table's
    primary key: the statement inserts the batch's keys (skipping stored ones, below) and stores
    only the events whose key it inserted; a key repeated within the batch keeps its first
    event. The same statement appends the rollup dirty marks of the rows it inserted
    (duplicates mark nothing), one distinct (customer, event name, UTC hour) each, except for
    on-time events (`ON_TIME`): their hour is not sealed yet, and the refresh task seals it
    once it is over (docs/scaling.md, "Sealed hours").

    Django's cursors bind parameters client-side, which quotes every array element in Python
    (most of a batch's time); a plain psycopg cursor on the same connection and transaction
    sends the arrays in binary (`%b`) instead.

    A batch first inserts its keys with a plain INSERT: `ON CONFLICT DO NOTHING` inserts each
    key speculatively (a lookup, the insert, then a confirmation written to the WAL), about a
    tenth of the statement's server time (docs/performance.md, "A backfill's marks indexed by
    customer, and keys without speculative insertion"). A key stored before makes that
    statement fail as a whole, having stored nothing (under a savepoint when a transaction is
    open, which then goes on; PostgreSQL logs the refused key, docs/operations.md); the batch
    is sent again with `ON CONFLICT DO NOTHING`, which skips the duplicates. A single event
    goes straight to `ON CONFLICT`: it is as often a client's retry as not.
    """
    names = {"table": table, "columns": columns}
    if len(rows) > 1:
        try:
            if connection.get_autocommit():  # no transaction open: the statement is its own
                return _insert_statement(rows, received_at, plain=True, **names)
            with transaction.atomic():  # a savepoint, so that a failure leaves the rest usable
                return _insert_statement(rows, received_at, plain=True, **names)
        except _KeyStored:
            pass  # a key of the batch was stored before: skip the stored ones this time
    return _insert_statement(rows, received_at, plain=False, **names)


class _KeyStored(Exception):
    """A batch's plain INSERT met a key stored before: the batch holds a duplicate."""


def _insert_statement(rows, received_at, *, table, columns, plain: bool) -> int:
    """Run the statement once. `plain`: the keys without ON CONFLICT, raising _KeyStored
    when one is stored already (the statement then stored nothing)."""
    import psycopg

    connection.ensure_connection()
    quote = connection.ops.quote_name
    marks, keys = quote(RollupDirtyBucket._meta.db_table), quote(EventKey._meta.db_table)
    on_conflict = "" if plain else "ON CONFLICT DO NOTHING "
    outbox = ""
    if clickhouse_enabled():  # the accepted events, queued for ClickHouse (docs/scaling.md)
        outbox = (
            f", outboxed AS (INSERT INTO {quote(ClickHouseOutbox._meta.db_table)} "
            "(event_pk, external_customer_id) "
            "SELECT id, external_customer_id FROM inserted RETURNING 1)"
        )
    statement = (
        "WITH batch AS (SELECT DISTINCT ON (u.customer, u.event_id) * "
        "FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[]) "
        "WITH ORDINALITY AS u(event_id, event_name, customer, ts, props, n) "
        # One order for every batch: two batches sharing events then take the key
        # index's locks in the same order, so they wait for each other, never deadlock.
        "ORDER BY u.customer, u.event_id, u.n), "
        f"accepted AS (INSERT INTO {keys} (external_customer_id, event_id, timestamp) "
        "SELECT customer, event_id, ts FROM batch ORDER BY customer, event_id "
        f"{on_conflict}RETURNING external_customer_id, event_id), "
        f"inserted AS (INSERT INTO {table} ({columns}) "
        "SELECT b.event_id, b.event_name, b.customer, b.ts, b.props::jsonb, %b, false "
        "FROM batch b JOIN accepted a "
        "ON a.external_customer_id = b.customer AND a.event_id = b.event_id "
        "RETURNING id, external_customer_id, event_name, timestamp), "
        f"marked AS (INSERT INTO {marks} (external_customer_id, event_name, bucket_start) "
        "SELECT DISTINCT external_customer_id, event_name, "
        f"date_trunc('hour', timestamp, 'UTC') FROM inserted WHERE NOT ({ON_TIME}) "
        f"RETURNING 1){outbox} "
        "SELECT count(*) FROM inserted"
    )
    arrays = [
        [row.event_id for row in rows],
        [row.event_name for row in rows],
        [row.external_customer_id for row in rows],
        [row.timestamp for row in rows],
        [row.properties_json for row in rows],
        received_at,
        received_at,
    ]
    with psycopg.Cursor(connection.connection) as cursor:
        try:
            cursor.execute(
                statement,
                arrays,
                # A single event's statement is prepared (docs/performance.md, "2026-12-07"); a
                # batch's is planned for its own arrays' sizes, as a generic plan would not be.
                prepare=prepared_statements() if len(rows) == 1 else False,
            )
        except psycopg.errors.UniqueViolation as error:
            if plain and error.diag.table_name == EventKey._meta.db_table:
                raise _KeyStored from error
            raise
        return cursor.fetchone()[0]


MAX_EXCLUSION_REASON = 1000


@transaction.atomic
def event_exclude(*, event: Event, reason: str, by: str, at: datetime) -> Event:
    """Exclude an event from billing (who, when, why kept on it): usage reads skip it from now.

    For a bad event that blocks a subscription's close. Invoices already finalized keep what
    they billed (corrections are credit notes). Excluding an excluded event is a conflict.
    """
    reason = (reason or "").strip()
    if not reason:
        raise AppError({"reason": ["Say why the event is excluded (kept with it)."]})
    if len(reason) > MAX_EXCLUSION_REASON:
        raise AppError({"reason": [f"At most {MAX_EXCLUSION_REASON} characters."]})
    locked = Event.objects.select_for_update().get(pk=event.pk)
    if locked.excluded_at is not None:
        raise AppError(
            f"Event {locked.event_id} was already excluded by {locked.excluded_by or 'someone'} "
            f"at {locked.excluded_at.isoformat()}.",
            kind=ErrorKind.CONFLICT,
        )
    locked.excluded_at, locked.excluded_reason, locked.excluded_by = at, reason, by[:150]
    locked.save(update_fields=["excluded_at", "excluded_reason", "excluded_by"])
    # The hour's rollups counted it: recompute them from raw events in this transaction.
    rollups_refresh_range(
        external_customer_id=locked.external_customer_id,
        start=locked.timestamp,
        end=locked.timestamp + timedelta(microseconds=1),
    )
    if clickhouse_enabled():  # ClickHouse gets the excluded version, which replaces the other
        outbox_add(events=[(locked.pk, locked.external_customer_id)])
    return locked
