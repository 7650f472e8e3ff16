"""The three roles as groups (docs/operations.md, "Roles"); their permissions are set after
every migrate by billing.roles (a post_migrate receiver), so later apps' models fall in."""

from django.db import migrations

ROLES = ["Billing admin", "Billing operator", "Finance viewer"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_api_key_scope"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
