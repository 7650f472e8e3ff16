"""Statements compiled once per shape and run again with other values.

Compiling a queryset (resolving its Q objects and expressions, then `as_sql`) costs more CPU
than PostgreSQL takes to run the small statements of an upcoming invoice (docs/performance.md,
"The upcoming invoice's Python"). `compiled_rows` compiles a statement once per key, with
placeholders in place of its values, and later runs the same SQL text with each call's values
swapped into the compiled parameters: the database sees the statement the ORM would have sent.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.query import Query

# Templates kept per process; past this many (meters edited again and again) they are dropped
# and compiled afresh.
MAX_TEMPLATES = 512
# Placeholders no real value takes: a datetime before any event, a text no id contains, a
# primary key beyond any sequence's reach (and beyond a 32-bit column's: an IntegerField
# lookup drops it, and the statement is then never cached).
_PLACEHOLDER_MOMENT = datetime(1901, 1, 1, tzinfo=UTC)
_PLACEHOLDER_TEXT = "\u2063compiled-value-{}\u2063"
_PLACEHOLDER_ID = 7_919_000_000_000_000


@dataclass(frozen=True)
class Aggregated:
    """One row of aggregates over a queryset, as `queryset.aggregate(**aggregates)` reads it
    (in the order of `aggregates`)."""

    queryset: QuerySet
    aggregates: dict


@dataclass(frozen=True)
class _Template:
    compiler: object  # the SQLCompiler: its select gives the converters of the columns
    sql: str
    params: tuple
    slots: tuple[tuple[int, int], ...]  # (position in params, index in the call's values)
    converters: dict


_templates: dict[tuple, _Template | None] = {}


def compiled_rows(
    *, key: tuple, build: Callable[[Sequence], QuerySet | Aggregated], values: Sequence
) -> list[tuple]:
    """The rows of `build(values)` (a values_list queryset, or `Aggregated`), converted as the
    ORM converts them.

    The statement is compiled once per `key` from `build(placeholders)`; later calls only swap
    their values in. So `key` must hold everything the statement's text depends on besides
    `values` (the tables, how many conditions and listed values, every constant: meter ids and
    definitions), and `build` must not look at the values it is given. Values are texts, aware
    datetimes and primary keys (never another integer: a limit or a count). A
    statement whose placeholders do not all come out as plain parameters is never cached: it
    is compiled again on each call, with the call's values.
    """
    return _run(key, build, values)[1]


def compiled_instances(
    *, key: tuple, build: Callable[[Sequence], QuerySet], values: Sequence
) -> list[Model]:
    """`compiled_rows` of a model queryset (select_related allowed, not prefetch_related): its
    instances, built from the rows as the ORM builds them (ModelIterable)."""
    template, rows = _run(key, build, values)
    if template is None:
        return []
    compiler = template.compiler
    db = compiler.using
    select, klass_info = compiler.select, compiler.klass_info
    model = klass_info["model"]
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    names = [column[0].target.attname for column in select[first:last]]
    populators = get_related_populators(klass_info, select, db)
    instances = []
    for row in rows:
        instance = model.from_db(db, names, row[first:last])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in compiler.annotation_col_map.items():
            setattr(instance, name, row[position])
        instances.append(instance)
    return instances


def prefetched(instance: Model, name: str, related: list[Model]) -> None:
    """Make `instance.<name>.all()` (a reverse foreign key or a many-to-many) answer `related`
    without a query, as prefetch_related leaves it: a read done by `compiled_instances`."""
    manager = getattr(instance, name)
    cache_name = getattr(manager, "prefetch_cache_name", None)
    if cache_name is None:  # a reverse foreign key: each object also knows its instance
        cache_name = manager.field.remote_field.cache_name
        for one in related:
            manager.field.set_cached_value(one, instance)
    queryset = manager.get_queryset()
    queryset._result_cache = list(related)
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[cache_name] = queryset


def compiled_aggregate(
    *, key: tuple, build: Callable[[Sequence], Aggregated], values: Sequence
) -> dict:
    """`compiled_rows` of an `Aggregated`: {alias: value}, as `queryset.aggregate` reads it."""
    template, rows = _run(key, build, values)
    if not rows:  # the ORM found the result empty without asking the database
        return {}
    aliases = [column[2] for column in template.compiler.select[: template.compiler.col_count]]
    return dict(zip(aliases, rows[0], strict=True))


def _run(key: tuple, build, values: Sequence) -> tuple[_Template | None, list[tuple]]:
    connection = connections["default"]
    full_key = (connection.alias, connection.vendor, key)
    template = _templates.get(full_key, False)
    if template is False:
        template = _template(build, values, connection)
        if len(_templates) >= MAX_TEMPLATES:
            _templates.clear()
        _templates[full_key] = template
    if template is None:
        try:
            template = _compiled(build(values), connection)
        except EmptyResultSet:
            return None, []
        params = template.params
    else:
        params = list(template.params)
        adapted = [_adapt(value, connection) for value in values]
        for position, index in template.slots:
            params[position] = adapted[index]
    with connection.cursor() as cursor:
        cursor.execute(template.sql, params)
        rows = cursor.fetchall()
    compiler, width = template.compiler, template.compiler.col_count
    rows = [row[:width] for row in rows]
    if template.converters:
        rows = compiler.apply_converters(rows, template.converters)
    return template, [tuple(row) for row in rows]


def compiled_templates_clear() -> None:
    """Forget every compiled statement (tests that change what a key should have held)."""
    _templates.clear()


def _template(build, values: Sequence, connection) -> _Template | None:
    placeholders = [_placeholder(index, value) for index, value in enumerate(values)]
    try:
        compiled = _compiled(build(placeholders), connection)
    except EmptyResultSet:
        return None
    wanted = {}
    for index, placeholder in enumerate(placeholders):
        wanted[_adapt(placeholder, connection)] = index
    slots = []
    for position, param in enumerate(compiled.params):
        try:
            index = wanted.get(param)
        except TypeError:  # an unhashable parameter (a list): not one of ours
            index = None
        if index is not None:
            slots.append((position, index))
    found = {index for _, index in slots}
    inlined = any(str(placeholder) in compiled.sql for placeholder in wanted)
    if found != set(range(len(values))) or inlined:
        return None  # a value the ORM transformed or wrote into the text: compile each time
    return _Template(
        compiled.compiler, compiled.sql, compiled.params, tuple(slots), compiled.converters
    )


def _compiled(source: QuerySet | Aggregated, connection) -> _Template:
    query = _aggregate_query(source) if isinstance(source, Aggregated) else source.query
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
    return _Template(compiler, sql, tuple(params), (), compiler.get_converters(fields))


def _aggregate_query(source: Aggregated) -> Query:
    """The query of `queryset.aggregate(**aggregates)` for aggregates over plain columns (what
    Query.get_aggregation builds when it needs no subquery)."""
    query = source.queryset.query.chain()
    if query.annotations or query.group_by or query.is_sliced or query.distinct:
        raise ValueError("Aggregated reads a plain filtered queryset.")
    resolved = {
        alias: expression.resolve_expression(query, allow_joins=True, reuse=None, summarize=True)
        for alias, expression in source.aggregates.items()
    }
    query.select = ()
    query.default_cols = False
    query.extra = {}
    query.annotations = resolved
    query.set_annotation_mask(resolved)
    query.clear_ordering(force=True)
    return query


def _placeholder(index: int, value):
    if isinstance(value, datetime):
        return _PLACEHOLDER_MOMENT + timedelta(seconds=index)
    if isinstance(value, str):
        return _PLACEHOLDER_TEXT.format(index)
    if isinstance(value, int) and not isinstance(value, bool):
        return _PLACEHOLDER_ID + index
    raise TypeError(f"compiled_rows takes texts, ids and datetimes, not {type(value).__name__}.")


def _adapt(value, connection):
    """The parameter the ORM binds for `value` (a DateTimeField's or a text field's)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value
