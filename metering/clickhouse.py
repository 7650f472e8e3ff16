"""ClickHouse as the event store for usage reads (EVENTS_BACKEND=clickhouse; docs/scaling.md).

The Django database stays the system of record: ingestion, deduplication and the event
debugger work on it as always. Each accepted event (and each event an operator changes) is
appended to `ClickHouseOutbox` in the ingest transaction; `clickhouse_sync` (the
"sync-clickhouse" task, or `manage.py clickhouse_events --sync --forever`) copies the
outbox's events into a ClickHouse `ReplacingMergeTree` keyed by (customer, event id) and
removes the rows it wrote. A row written twice (a sync that died between ClickHouse's insert
and the database's commit) is one row under `FINAL`, so writes are exactly-once for reads.

ClickHouse 18.16 (Debian's) reads JSON numbers as Float64, so properties are flattened here,
by Python, with the rules of `metering.properties`: every property path with its text (filters,
group_by, unique_count) and every non-negative number as four base-10^9 integer chunks of
`value × 10^18` (sums exact in UInt64, finished in Python) plus its text; a number that does
not fit (≥ 10^18, or more than 18 decimals) is marked wide and summed in Python from its text.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction

from metering.models import ClickHouseOutbox, Event
from metering.properties import value_as_number, value_as_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
CHUNK = 10**9
SCALE = 18  # decimals kept in the chunks
FITS_BELOW = Decimal(10) ** 18
LOCAL_TABLE = "events"
DISTRIBUTED_TABLE = "events_distributed"
ROLLUP_LOCAL_TABLE = "usage_rollups"
ROLLUP_DISTRIBUTED_TABLE = "usage_rollups_distributed"
SYNC_BATCH = 10_000
HOUR_MICROS = 3_600_000_000
# FINAL's merge, then `excluded` and every versioned figure: no condition may move past it
# (docs/scaling.md).
READ_SETTINGS = {"enable_optimize_predicate_expression": 0}

_COLUMNS = (
    ("customer", "String"),
    ("event_id", "String"),
    ("pk", "UInt64"),  # the database's id: `latest` breaks timestamp ties by arrival with it
    ("event_name", "String"),
    ("ts", "Int64"),  # microseconds since the epoch, UTC (18.16 has no DateTime64)
    ("day", "Date"),
    ("excluded", "UInt8"),  # the version: excluded (1) replaces counted (0), never back
    ("text_paths", "Array(String)"),
    ("text_values", "Array(String)"),
    ("num_paths", "Array(String)"),
    ("num_c0", "Array(UInt32)"),
    ("num_c1", "Array(UInt32)"),
    ("num_c2", "Array(UInt32)"),
    ("num_c3", "Array(UInt32)"),
    ("num_scale", "Array(UInt16)"),
    ("num_text", "Array(String)"),
    ("num_wide", "Array(UInt8)"),
)
COLUMN_NAMES = tuple(name for name, _ in _COLUMNS)

# Per-meter hourly rollups (metering.clickhouse_rollups): the key, the version, the figures.
ROLLUP_COLUMNS = (
    ("customer", "String"),
    ("meter_id", "UInt64"),
    ("definition", "String"),  # the meter's definition digest (metering.rollups)
    ("hour", "Int64"),  # hours since the epoch, UTC
    ("group_has", "UInt8"),  # the meter's group_by: whether the event has it, and its text
    ("group_value", "String"),
    ("version", "UInt64"),  # a recomputation replaces the older row
    ("event_count", "UInt64"),
    ("s0", "UInt64"),  # sum and avg: the sums of the value chunks that fit, their largest scale
    ("s1", "UInt64"),
    ("s2", "UInt64"),
    ("s3", "UInt64"),
    ("scale", "UInt16"),
    ("fits", "UInt64"),  # min and max: how many values fit the chunks, the extreme one's
    ("lo_key", "String"),  # sort key (36 digits) and text
    ("lo_text", "String"),
    ("hi_key", "String"),
    ("hi_text", "String"),
    ("wide", "Array(String)"),  # texts of the counted values beyond the chunks (rare)
    ("latest_ts", "Int64"),  # latest: the last counted event and its value's text
    ("latest_pk", "UInt64"),
    ("latest_text", "String"),
)


def clickhouse_enabled() -> bool:
    return settings.EVENTS_BACKEND == "clickhouse"


def events_table() -> str:
    """The table reads and writes use: Distributed over the cluster's shards, or local."""
    return DISTRIBUTED_TABLE if settings.CLICKHOUSE_CLUSTER else LOCAL_TABLE


def rollups_table() -> str:
    """The rollup table reads and writes use, as `events_table`."""
    return ROLLUP_DISTRIBUTED_TABLE if settings.CLICKHOUSE_CLUSTER else ROLLUP_LOCAL_TABLE


def database_name(url: str | None = None) -> str:
    return urlsplit(url or settings.CLICKHOUSE_URL).path.strip("/") or "default"


_clients = threading.local()


def client(url: str | None = None):
    """A clickhouse-driver client for this thread (a client is not thread-safe)."""
    from clickhouse_driver import Client

    url = url or settings.CLICKHOUSE_URL
    cache = _clients.__dict__.setdefault("by_url", {})
    if url not in cache:
        # The database may not exist yet (clickhouse_migrate creates it): connect to default.
        parts = urlsplit(url)
        cache[url] = Client(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 9000,
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database="default",
            connect_timeout=3,
            send_receive_timeout=60,
            settings={"insert_distributed_sync": 1},
        )
    return cache[url]


def clickhouse_reachable(url: str | None = None) -> bool:
    try:
        client(url).execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure to talk to it means "not reachable"
        return False
    return True


# --- schema ------------------------------------------------------------------------------


def clickhouse_migrate(*, url: str | None = None, cluster: str | None = None) -> list[str]:
    """Create the database and tables (idempotent): the local ReplacingMergeTree on every node
    of `cluster` (18.16's ON CLUSTER needs ZooKeeper, so each node is told directly), and the
    Distributed table over them. Returns what it created, for the command's output."""
    url = url or settings.CLICKHOUSE_URL
    cluster = settings.CLICKHOUSE_CLUSTER if cluster is None else cluster
    database = database_name(url)
    entry = client(url)
    nodes = [url]
    if cluster:
        found = entry.execute(
            "SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s", {"c": cluster}
        )
        if not found:
            raise ValueError(f"ClickHouse has no cluster {cluster!r} in its remote_servers.")
        parts = urlsplit(url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        nodes = [f"clickhouse://{auth}{host}:{port}/{database}" for host, port in found]
    columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
    done = []
    for node in nodes:
        node_client = client(node)
        node_client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        node_client.execute(
            f"CREATE TABLE IF NOT EXISTS {database}.{LOCAL_TABLE} ({columns}) "
            "ENGINE = ReplacingMergeTree(excluded) PARTITION BY toYYYYMM(day) "
            # The key of an event is (customer, event_id), as in the database; its name and
            # timestamp never change, so sorting by them too keeps one row per event under
            # FINAL and lets a read find a customer's meter and window by the primary index.
            "ORDER BY (customer, event_name, ts, event_id)"
        )
        rollup_columns = ", ".join(f"{name} {kind}" for name, kind in ROLLUP_COLUMNS)
        node_client.execute(
            f"CREATE TABLE IF NOT EXISTS {database}.{ROLLUP_LOCAL_TABLE} ({rollup_columns}) "
            # One row per key under FINAL: the highest version, the last computation's.
            "ENGINE = ReplacingMergeTree(version) "
            "ORDER BY (customer, meter_id, definition, hour, group_has, group_value)"
        )
        where = urlsplit(node).netloc.split("@")[-1]
        done += [f"{database}.{table} on {where}" for table in (LOCAL_TABLE, ROLLUP_LOCAL_TABLE)]
        if cluster:
            # Sharded by customer: both copies of an event land on one shard, where FINAL
            # keeps one of them, so a read over the Distributed table is exact; a customer's
            # rollups live on the shard of its events.
            for distributed, local in (
                (DISTRIBUTED_TABLE, LOCAL_TABLE),
                (ROLLUP_DISTRIBUTED_TABLE, ROLLUP_LOCAL_TABLE),
            ):
                node_client.execute(
                    f"CREATE TABLE IF NOT EXISTS {database}.{distributed} "
                    f"AS {database}.{local} "
                    f"ENGINE = Distributed({cluster}, {database}, {local}, cityHash64(customer))"
                )
    if cluster:
        done.append(
            f"{database}.{DISTRIBUTED_TABLE} and {ROLLUP_DISTRIBUTED_TABLE} over cluster {cluster}"
        )
    return done


# --- rows --------------------------------------------------------------------------------


def micros(moment: datetime) -> int:
    """A moment as ClickHouse's `ts`: whole microseconds since the epoch (UTC)."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


@dataclass(frozen=True)
class StoredNumber:
    """A non-negative property number as ClickHouse keeps it (see the module's docstring)."""

    chunks: tuple[int, int, int, int]
    scale: int
    text: str
    wide: bool


def stored_number(number: Decimal) -> StoredNumber:
    """The number as PostgreSQL's numeric shows it (its scale kept: 1.50 stays 1.50, 1E+3
    is 1000) and, when it fits, as exact integer chunks of number × 10^18."""
    from metering.selectors.rollup_usage import _EXACT

    scale = max(0, -number.as_tuple().exponent)
    shown = number.quantize(Decimal(1).scaleb(-scale), context=_EXACT)
    if shown == 0:
        shown = shown.copy_abs()  # -0 is 0, as numeric has no negative zero
    if scale > SCALE or shown >= FITS_BELOW:
        return StoredNumber((0, 0, 0, 0), scale, str(shown), True)
    units = int(shown.scaleb(SCALE, context=_EXACT))
    chunks = (
        units // CHUNK**3,
        units // CHUNK**2 % CHUNK,
        units // CHUNK % CHUNK,
        units % CHUNK,
    )
    return StoredNumber(chunks, scale, str(shown), False)


def flatten(properties: object) -> tuple[list[tuple[str, str]], list[tuple[str, StoredNumber]]]:
    """([(path, text)], [(path, number)]) of every dotted path a meter can name.

    A key that is empty or holds a dot cannot be named by a meter's path (its dots separate
    keys), so it and what is under it are left out. Negative numbers never count for a meter
    (`meter_condition`), so only numbers of zero or more are kept.
    """
    texts: list[tuple[str, str]] = []
    numbers: list[tuple[str, StoredNumber]] = []

    def walk(value: dict, prefix: str) -> None:
        for key, item in value.items():
            if not key or "." in key:
                continue
            path = prefix + key
            text = value_as_text(item)
            if text is not None:
                texts.append((path, text))
            number = value_as_number(item)
            if number is not None and number >= 0:
                numbers.append((path, stored_number(number)))
            if isinstance(item, dict):
                walk(item, path + ".")

    if isinstance(properties, dict):
        walk(properties, "")
    return texts, numbers


# What a ClickHouse row is made of, read from the database without building model objects.
EVENT_FIELDS = (
    "pk",
    "external_customer_id",
    "event_id",
    "event_name",
    "timestamp",
    "properties",
    "excluded_at",
)


def event_columns(events: Iterable[tuple]) -> list[list]:
    """ClickHouse's columns (in COLUMN_NAMES order) of events given as EVENT_FIELDS tuples."""
    columns: list[list] = [[] for _ in COLUMN_NAMES]
    (customer, event_id, pk, name, ts, day, excluded, text_paths, text_values) = columns[:9]
    (num_paths, c0, c1, c2, c3, scales, num_texts, wides) = columns[9:]
    for row_pk, row_customer, row_event_id, row_name, moment, properties, excluded_at in events:
        texts, numbers = flatten(properties)
        moment = moment.astimezone(UTC)
        customer.append(row_customer)
        event_id.append(row_event_id)
        pk.append(row_pk)
        name.append(row_name)
        ts.append(micros(moment))
        day.append(moment.date())
        excluded.append(int(excluded_at is not None))
        text_paths.append([path for path, _ in texts])
        text_values.append([text for _, text in texts])
        num_paths.append([path for path, _ in numbers])
        c0.append([number.chunks[0] for _, number in numbers])
        c1.append([number.chunks[1] for _, number in numbers])
        c2.append([number.chunks[2] for _, number in numbers])
        c3.append([number.chunks[3] for _, number in numbers])
        scales.append([number.scale for _, number in numbers])
        num_texts.append([number.text for _, number in numbers])
        wides.append([int(number.wide) for _, number in numbers])
    return columns


def events_write(events) -> int:
    """Write a queryset of events to ClickHouse, then recompute the rollups of their hours
    (metering.clickhouse_rollups); how many were written."""
    from metering.clickhouse_rollups import rollups_after_write

    columns = event_columns(events.values_list(*EVENT_FIELDS))
    rows_insert(columns)
    if columns[0]:
        rollups_after_write(columns)
    return len(columns[0])


def rows_insert(columns: list[list]) -> None:
    """Insert columns into the events table (synchronously into every shard when distributed)."""
    if columns and columns[0]:
        table = f"{database_name()}.{events_table()}"
        client().execute(
            f"INSERT INTO {table} ({', '.join(COLUMN_NAMES)}) VALUES", columns, columnar=True
        )


# --- writes: the outbox ------------------------------------------------------------------


def outbox_add(*, events: Iterable[tuple[int, str]]) -> None:
    """Queue (event pk, customer) pairs for ClickHouse: call it in the transaction that stores
    or changes the events."""
    ClickHouseOutbox.objects.bulk_create(
        ClickHouseOutbox(event_pk=pk, external_customer_id=customer) for pk, customer in events
    )


@dataclass(frozen=True)
class SyncResult:
    written: int
    batches: int

    def summary(self) -> str:
        return f"{self.written} events written to ClickHouse in {self.batches} batches"


def clickhouse_sync(*, batch_size: int = SYNC_BATCH, max_batches: int = 100) -> SyncResult:
    """Write the outbox's events to ClickHouse, oldest first, and remove what was written.

    Per batch, one transaction: the outbox rows are locked (SKIP LOCKED: two syncs share the
    work), their events written to ClickHouse, the kept meters' rollups of their hours
    recomputed there, the rows deleted. If ClickHouse fails, the
    transaction rolls back and the rows wait for the next run; if the database's commit fails
    after ClickHouse took the rows, the next run writes them again and `FINAL` keeps one.
    """
    written = batches = 0
    while batches < max_batches:
        with transaction.atomic():
            queued = list(
                ClickHouseOutbox.objects.select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", "event_pk")[:batch_size]
            )
            if not queued:
                break
            pks = {event_pk for _, event_pk in queued}
            written += events_write(Event.objects.filter(pk__in=pks))
            ClickHouseOutbox.objects.filter(id__in=[row_id for row_id, _ in queued]).delete()
        batches += 1
        if len(queued) < batch_size:
            break
    return SyncResult(written, batches)


def clickhouse_backfill(*, batch_size: int = SYNC_BATCH, since_pk: int = 0) -> int:
    """Write every stored event to ClickHouse (switching an existing install to the backend,
    or after a ClickHouse restore), by ascending pk; idempotent (FINAL keeps one row each)."""
    written = 0
    last = since_pk
    while True:
        pks = list(
            Event.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not pks:
            return written
        written += events_write(Event.objects.filter(pk__gte=pks[0], pk__lte=pks[-1]))
        last = pks[-1]


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
