from datetime import UTC, datetime

from django.db import migrations, models


def seal_until_now(apps, schema_editor):
    """Every event stored so far was marked dirty by ingestion or is in the rollups: the hours
    before this one are sealed (docs/scaling.md, "Sealed hours")."""
    horizon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    apps.get_model("metering", "RollupHorizon").objects.update_or_create(
        pk=1, defaults={"sealed_until": horizon}
    )


class Migration(migrations.Migration):
    dependencies = [("metering", "0009_merge_debugger_clickhouse_rollups")]

    operations = [
        migrations.CreateModel(
            name="RollupHorizon",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sealed_until", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(seal_until_now, migrations.RunPython.noop),
    ]
