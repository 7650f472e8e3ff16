"""Bulk writes of the cycle close on PostgreSQL (docs/performance.md, "Cycle close"): inserts
through COPY, updates in one statement; other databases take Django's bulk_create and bulk_update.

`rows_insert` is `Model.objects.bulk_create(objs)` for plain models (an auto primary key, no
multi-table inheritance, no signals: bulk_create sends none either): the ids are taken from the
table's sequence first (one SELECT), then the rows are streamed in one `COPY … FROM STDIN` on
Django's connection, in the caller's transaction. Django 5.2's bulk_create on PostgreSQL binds
one array per column and psycopg quotes every element in Python; COPY's rows are formatted by
psycopg's C code and parsed by the server without an array per column. `values_insert` writes
rows given as tuples the same way, for the close's rows that nothing reads back (ledger entries,
revenue schedules and their months, audit entries): a model instance costs ~25 µs to build,
more than its row's share of the COPY.

`rows_update` is `Model.objects.bulk_update(objs, fields)`: one `UPDATE … FROM unnest(…)` with
an array per field, where bulk_update builds a `CASE WHEN id = … THEN …` expression per field
with a branch per row (a quarter of the close's CPU for 250 invoices, and as many branches for
the server to walk for each row).
"""

from collections.abc import Iterable, Sequence
from functools import cache
from operator import attrgetter

from django.db import connections, router
from django.db.models import Field, ForeignKey, Model
from django.utils import timezone

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


def _auto_date(field: Field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _as_is(field: Field) -> bool:
    return field.get_internal_type() in AS_IS and not _auto_date(field)


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
    fields, getter, prepared = _columns(model)
    foreign = [
        (index + 1, field) for index, field in enumerate(fields) if isinstance(field, ForeignKey)
    ]

    def rows(ids):
        for obj, pk in zip(objs, ids, strict=True):
            row = [pk, *getter(obj)]
            if any(row[at] is None and f.get_cached_value(obj, None) for at, f in foreign):
                # What bulk_create does: a related object saved after it was assigned
                # gives its id now (and one never saved is refused).
                obj._prepare_related_fields_for_save(operation_name="bulk_create")
                row = [pk, *getter(obj)]
            for index, field in prepared:
                row[index + 1] = field.get_db_prep_save(field.pre_save(obj, True), connection)
            yield row

    ids = _copy(connection, model, fields, len(objs), rows)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return objs


def values_insert(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence]) -> list[int]:
    """Insert rows given as tuples, without a model instance each: `fields` are attribute names
    (`invoice_id`, not `invoice`), each row their values in that order; every other field takes
    its default, as `model(...)` gives it (`auto_now`/`auto_now_add` dates: now). The new ids,
    in the rows' order. Elsewhere than PostgreSQL: `model(**row)` instances and bulk_create, so
    both save the same rows (tests/billing/test_bulk.py compares them field by field).
    """
    rows = list(rows)
    given, defaults = _given_and_defaults(model, tuple(fields))
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            model(**dict(zip(fields, row, strict=True))) for row in rows
        )
        return [obj.pk for obj in objs]
    if not rows:
        return []
    now = timezone.now()
    tail = [
        now if _auto_date(field) else field.get_db_prep_save(field.get_default(), connection)
        for field in defaults
    ]
    prepared = [(index, field) for index, field in enumerate(given) if not _as_is(field)]

    def copy_rows(ids):
        for pk, row in zip(ids, rows, strict=True):
            if prepared:
                row = list(row)
                for index, field in prepared:
                    row[index] = field.get_db_prep_save(row[index], connection)
            yield (pk, *row, *tail)

    return _copy(connection, model, [*given, *defaults], len(rows), copy_rows)


@cache
def _given_and_defaults(
    model: type[Model], names: tuple[str, ...]
) -> tuple[list[Field], list[Field]]:
    """The fields named (by attribute name) and the model's other columns but the key."""
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    given = [by_attname[name] for name in names]
    if any(field.primary_key or _auto_date(field) for field in given):
        raise ValueError("values_insert takes neither the primary key nor auto_now dates.")
    defaults = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in names
    ]
    # A default is computed once for all the rows: a unique field with a callable default
    # (a uuid4, say) would repeat one value, so it must be given.
    if any(field.unique and callable(field.default) for field in defaults):
        raise ValueError("values_insert needs every unique field with a callable default given.")
    return given, defaults


def _copy(connection, model: type[Model], fields: list[Field], count: int, rows) -> list[int]:
    """Take `count` ids from the table's sequence, then COPY `rows(ids)` (each row: the id, then
    the values of `fields`, ready for the database) in one statement; the ids."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in [meta.pk.column, *(f.column for f in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
                for row in rows(ids):
                    copy.write_row(row)
    return ids


def rows_update(model: type[Model], objs: Iterable[Model], fields: list[str]) -> int:
    """Write `fields` of `objs` (saved instances of `model`) as bulk_update does (no pre_save:
    an `auto_now` field is written as the instance holds it); the number of rows matched."""
    objs = list(objs)
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, fields)
    if not objs:
        return 0
    meta = model._meta
    written = [meta.get_field(name) for name in fields]
    if any(field.primary_key or not field.concrete for field in written):
        raise ValueError("rows_update writes concrete fields other than the primary key.")
    quote = connection.ops.quote_name
    columns = [meta.pk, *written]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    names = ", ".join(quote(field.column) for field in columns)
    sets = ", ".join(f"{quote(f.column)} = given.{quote(f.column)}" for f in written)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    values = [[obj.pk for obj in objs]] + [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objs]
        for field in written
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS given({names}) "
            f"WHERE {table}.{pk} = given.{pk}",
            values,
        )
        return cursor.rowcount
