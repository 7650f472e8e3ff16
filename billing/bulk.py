"""Bulk inserts through PostgreSQL's COPY, for the writes of the cycle close (docs/performance.md,
"Cycle close"); other databases take Django's bulk_create.

`rows_insert` is `Model.objects.bulk_create(objs)` for plain models (an auto primary key, no
multi-table inheritance, no signals: bulk_create sends none either): the ids are taken from the
table's sequence first (one SELECT), then the rows are streamed in one `COPY … FROM STDIN` on
Django's connection, in the caller's transaction. Django 5.2's bulk_create on PostgreSQL binds
one array per column and psycopg quotes every element in Python; COPY's rows are formatted by
psycopg's C code and parsed by the server without an array per column.
"""

from collections.abc import Iterable
from functools import cache
from operator import attrgetter

from django.db import connections, router
from django.db.models import Field, ForeignKey, Model

# Fields whose attribute goes to the database as it is (what get_db_prep_save does to a value of
# the field's Python type on PostgreSQL); every other field (JSON, files, auto_now dates) goes
# through pre_save and get_db_prep_save like in bulk_create.
AS_IS = {
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _as_is(field: Field) -> bool:
    auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return field.get_internal_type() in AS_IS and not auto


@cache
def _columns(model: type[Model]) -> tuple[list[Field], attrgetter, list[tuple[int, Field]]]:
    """The fields written (all but the primary key), a getter of their attributes in one call,
    and the (position, field) of those that need Django's preparation."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    getter = attrgetter(*(field.attname for field in fields))
    prepared = [(index, field) for index, field in enumerate(fields) if not _as_is(field)]
    return fields, getter, prepared


def rows_insert(model: type[Model], objs: Iterable[Model]) -> list[Model]:
    """Insert `objs` (new instances of `model`) and set their primary keys; the list saved.

    Database errors (a unique or check constraint) are Django's, as from bulk_create.
    """
    objs = list(objs)
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs)
    if not objs:
        return objs
    meta = model._meta
    fields, getter, prepared = _columns(model)
    foreign = [
        (index + 1, field) for index, field in enumerate(fields) if isinstance(field, ForeignKey)
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in [meta.pk.column, *(f.column for f in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
                for obj, pk in zip(objs, ids, strict=True):
                    row = [pk, *getter(obj)]
                    if any(row[at] is None and f.get_cached_value(obj, None) for at, f in foreign):
                        # What bulk_create does: a related object saved after it was assigned
                        # gives its id now (and one never saved is refused).
                        obj._prepare_related_fields_for_save(operation_name="bulk_create")
                        row = [pk, *getter(obj)]
                    for index, field in prepared:
                        row[index + 1] = field.get_db_prep_save(
                            field.pre_save(obj, True), connection
                        )
                    copy.write_row(row)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return objs
