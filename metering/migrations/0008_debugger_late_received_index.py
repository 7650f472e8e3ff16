# The event debugger's "late" filter lists late events newest-first: a partial index on
# `received_at` of the late events reads the page's rows in order instead of fetching every
# late event and sorting them (docs/performance.md, "Event debugger on a large table").
#
# On PostgreSQL the events table is partitioned (0007), where CREATE INDEX CONCURRENTLY is not
# possible on the parent: the index is created on the parent only (instantly, invalid), then
# CONCURRENTLY on each partition and attached, so ingestion is never blocked; partitions
# attached later get it from the parent (metering.partitions). Elsewhere a plain CREATE INDEX.

from django.db import migrations, models

NAME = "event_late_received_idx"
INDEX = models.Index(fields=["received_at"], name=NAME, condition=models.Q(is_late=True))


def _partitions(cursor) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'metering_event'::regclass ORDER BY c.relname"
    )
    return [name for (name,) in cursor.fetchall()]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(apps.get_model("metering", "Event"), INDEX)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON ONLY metering_event (received_at) "
            "WHERE is_late"
        )
        for partition in _partitions(cursor):
            index = f"{partition}_late_received_idx"
            cursor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{partition}" '
                "(received_at) WHERE is_late"
            )
            cursor.execute(
                "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s) "
                "AND inhparent = to_regclass(%s)",
                [index, NAME],
            )
            if cursor.fetchone() is None:
                cursor.execute(f'ALTER INDEX {NAME} ATTACH PARTITION "{index}"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_index(apps.get_model("metering", "Event"), INDEX)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {NAME}")  # the partitions' indexes go with it


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ("metering", "0007_partitioned_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="event", index=INDEX)],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
