""" "Export selected to CSV": an admin action on every list page, for every role that may view
the list (Finance viewer's exports; docs/operations.md, "Roles")."""

import csv

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone

# Credentials never leave in an export.
EXCLUDED_FIELDS = {"key_hash", "secret", "password"}


class _Echo:
    """The file-like object csv.writer writes to: each row is streamed as it is written."""

    def write(self, value: str) -> str:
        return value


@admin.action(description="Export selected to CSV", permissions=["view"])
def export_selected_csv(modeladmin, request, queryset):
    return queryset_csv_response(queryset)


def queryset_csv_response(queryset) -> StreamingHttpResponse:
    """Every row of `queryset`, every stored column but credentials, streamed: the list action
    and the console's "Export CSV" of a whole filtered list."""
    model = queryset.model
    fields = [f for f in model._meta.concrete_fields if f.attname not in EXCLUDED_FIELDS]
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow([field.attname for field in fields])
        for obj in queryset.order_by("pk").iterator(chunk_size=2000):
            yield writer.writerow([getattr(obj, field.attname) for field in fields])

    return _streamed(rows(), f"{model._meta.app_label}-{model._meta.model_name}")


def _streamed(rows, name: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        rows,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


def csv_response(name: str, header: list[str], rows) -> StreamingHttpResponse:
    """A CSV download of `rows` (an iterable of lists) under `header`, streamed as written: the
    console's reports (usage by customer) use it beside the list action."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    return _streamed(lines(), name)


def exports_register(site: admin.AdminSite) -> None:
    site.add_action(export_selected_csv, "export_selected_csv")
