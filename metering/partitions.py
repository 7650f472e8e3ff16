"""Monthly partitions of the events table on PostgreSQL (docs/scaling.md, "Partitioned events").

The events table is partitioned by range of `timestamp`, one partition per UTC month named
`metering_event_yYYYYmMM`, plus `metering_event_default` for any timestamp outside them, so
no accepted event is ever refused for lack of a partition. The "event-partitions" schedule
creates the current month's and the next `AHEAD` months' partitions; a month whose events
already sit in the default partition is moved out of it when its partition is created.

On SQLite the events table is a plain table: every function here is a no-op there.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from django.db import connection, transaction

from billing.errors import AppError, ErrorKind

TABLE = "metering_event"
DEFAULT = "metering_event_default"
AHEAD = 3  # months created ahead of the current one
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Partition:
    name: str
    month: date | None  # None: the default partition
    rows: int | None = None


def partitioned() -> bool:
    """True when the events table is a partitioned table (PostgreSQL after migration 0007)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE]
        )
        return cursor.fetchone() is not None


def month_parse(value: str) -> date:
    """'YYYY-MM' → the month's first day; AppError otherwise (years 1..9999)."""
    match = MONTH.match(value or "")
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise AppError({"month": [f"Give a month as YYYY-MM, not {value!r}."]})
    return date(int(match[1]), int(match[2]), 1)


def month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def _bound(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partitions_list(*, counts: bool = False) -> list[Partition]:
    """The attached partitions, oldest month first, the default last."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
        result = []
        for name in names:
            month = None if name == DEFAULT else date(int(name[-7:-3]), int(name[-2:]), 1)
            rows = None
            if counts:
                cursor.execute(f'SELECT count(*) FROM "{name}"')
                rows = cursor.fetchone()[0]
            result.append(Partition(name=name, month=month, rows=rows))
    return sorted(result, key=lambda p: (p.month is None, p.month or date.min))


def partition_create(*, month: date) -> bool:
    """Create one month's partition if missing (idempotent); returns whether it was created.

    Events of that month already in the default partition are moved into it in the same
    transaction (that is how the default partition is split: docs/operations.md).
    """
    if not partitioned():
        return False
    name = partition_name(month)
    start, end = _bound(month), _bound(month_add(month, 1))
    with transaction.atomic(), connection.cursor() as cursor:
        # One creator at a time (the schedule and an operator's command may meet).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [TABLE])
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s) "
            "AND inhparent = to_regclass(%s)), to_regclass(%s) IS NOT NULL",
            [name, TABLE, name],
        )
        attached, exists = cursor.fetchone()
        if attached:
            return False
        if exists:  # detached earlier and kept: its rows are not this month's live events
            raise AppError(
                f"A detached table {name} exists: archive or rename it before creating the "
                "month again.",
                kind=ErrorKind.CONFLICT,
            )
        cursor.execute(f'CREATE TABLE "{name}" (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE)')
        # Rows of the month in the default partition (far-future or past events) move to the
        # new table first: attaching it checks that the default holds none of its range.
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE "timestamp" >= %s AND "timestamp" < %s '
            f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
            [start, end],
        )
        cursor.execute(
            f'ALTER TABLE {TABLE} ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)',
            [start, end],
        )
    return True


def partitions_ensure(*, at: datetime, ahead: int = AHEAD) -> list[str]:
    """The current month's partition and the next `ahead` months' (the schedule); returns the
    names created."""
    if not partitioned():
        return []
    current = date(at.astimezone(UTC).year, at.astimezone(UTC).month, 1)
    months = [month_add(current, n) for n in range(ahead + 1)]
    return [partition_name(month) for month in months if partition_create(month=month)]


@dataclass(frozen=True)
class Detached:
    name: str
    rows: int
    archive: Path | None
    dropped: bool


def partitions_detach(
    *,
    before: date,
    hold: Callable[[datetime, datetime], str],
    drop: bool = False,
    archive_dir: Path | None = None,
) -> list[Detached]:
    """Detach every monthly partition of a month before `before` (never the default).

    Refuses (AppError, nothing changed) when any such month may still be billed: `hold(start,
    end)` says why a month's events may still be billed, '' when they may not (the invoices
    app knows: `invoices.selectors.events_unbilled_reason`). A detached partition stays as a
    plain table of the same name (usage reads no longer see it) unless archived: `archive_dir`
    writes its rows as CSV (`COPY … WITH (FORMAT csv, HEADER)`) to `<name>.csv` and drops it;
    `drop` drops it. Dedup keys are kept, so an archived event sent again is still a
    duplicate.
    """
    if not partitioned():
        raise AppError("The events table is not partitioned (PostgreSQL only).")
    old = [p for p in partitions_list() if p.month is not None and p.month < before]
    for partition in old:
        month = partition.month
        reason = (
            "the month has not ended"
            if _bound(month_add(month, 1)) > datetime.now(UTC)
            else hold(_bound(month), _bound(month_add(month, 1)))
        )
        if reason:
            raise AppError(f"{month:%Y-%m} cannot be detached: {reason}.", kind=ErrorKind.CONFLICT)
    if archive_dir is not None and not archive_dir.is_dir():
        raise AppError({"archive_dir": [f"{archive_dir} is not a directory."]})
    done = []
    for partition in old:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE {TABLE} DETACH PARTITION "{partition.name}"')
            cursor.execute(f'SELECT count(*) FROM "{partition.name}"')
            rows = cursor.fetchone()[0]
            path = None
            if archive_dir is not None:
                path = archive_dir / f"{partition.name}.csv"
                with (
                    path.open("wb") as file,
                    cursor.cursor.copy(
                        f'COPY "{partition.name}" TO STDOUT WITH (FORMAT csv, HEADER)'
                    ) as copy,
                ):
                    for chunk in copy:
                        file.write(chunk)
            if drop or path is not None:
                cursor.execute(f'DROP TABLE "{partition.name}"')
        done.append(Detached(partition.name, rows, path, drop or path is not None))
    return done
