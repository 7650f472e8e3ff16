# The event debugger's indexes (docs/scaling.md). On PostgreSQL they are built CONCURRENTLY:
# a plain CREATE INDEX would block ingestion for as long as it takes on a large events table.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('metering', '0003_usage_rollups'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='event',
            index=models.Index(fields=['external_customer_id', 'received_at'], name='event_customer_received_idx'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='event',
            index=models.Index(fields=['event_id'], name='event_event_id_idx'),
        ),
    ]
