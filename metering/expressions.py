"""Exact reads of event properties inside the database, for PostgreSQL and SQLite.

PostgreSQL keeps JSON numbers as `numeric`, so a property is read as text and cast to
numeric once a length check and a regex say it is numeric (a bad value is skipped, never an
error). SQLite's
`json_extract` returns REAL, which is inexact (0.1 + 0.2 ≠ 0.3), so on SQLite the JSON text
of the value (`->`) goes through small Decimal functions registered on every connection.
"""

import decimal
from decimal import Decimal

from django.db import NotSupportedError, models
from django.db.models import Aggregate, F, Func

from metering.properties import (
    MAX_NUMERIC_TEXT,
    NUMERIC_PATTERN,
    number_from_json,
    property_path,
    sqlite_json_path,
    text_from_json,
)

# Exact addition: SQLite's sums must not round where PostgreSQL's numeric would not.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


class ExactNumberField(models.Field):
    """Output of the exact numeric expressions: numeric on PostgreSQL, decimal text on SQLite."""

    def get_internal_type(self) -> str:
        # Not "DecimalField": Django's SQLite converter would read the text as a float.
        return "TextField"

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(value)


class _PropertyExpression(Func):
    """Base: one expression over `properties` at a dotted path."""

    def __init__(self, path: str, **extra):
        super().__init__(F("properties"), **extra)
        self.path = path

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"{type(self).__name__} supports PostgreSQL and SQLite only.")

    def _properties_sql(self, compiler):
        return compiler.compile(self.source_expressions[0])


class PropertyText(_PropertyExpression):
    """The property as text (`->>` semantics): strings unquoted, numbers as written."""

    output_field = models.TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self._properties_sql(compiler)
        return f"({sql} #>> %s)", (*params, property_path(self.path))

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = self._properties_sql(compiler)
        return f"tally_json_text({sql} -> %s)", (*params, sqlite_json_path(self.path))


class PropertyNumber(_PropertyExpression):
    """The property as an exact number; NULL when missing or not numeric."""

    output_field = ExactNumberField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self._properties_sql(compiler)
        path = property_path(self.path)
        text = f"({sql} #>> %s)"
        return (
            f"(CASE WHEN length({text}) <= %s AND {text} ~ %s THEN {text}::numeric END)",
            (*params, path, MAX_NUMERIC_TEXT, *params, path, NUMERIC_PATTERN, *params, path),
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = self._properties_sql(compiler)
        return f"tally_number({sql} -> %s)", (*params, sqlite_json_path(self.path))


class NonNegative(Func):
    """True when the number (a PropertyNumber) is zero or more; NULL stays not true."""

    output_field = models.BooleanField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} >= 0)", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite's numbers are exact decimal text here; the sign is all this needs.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(CAST({sql} AS REAL) >= 0)", params


class _ExactAggregate(Aggregate):
    output_field = ExactNumberField()
    sqlite_function = ""

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function=self.sqlite_function, **extra_context)


class ExactSum(_ExactAggregate):
    function = "SUM"
    name = "ExactSum"
    sqlite_function = "tally_sum"


class ExactMax(_ExactAggregate):
    function = "MAX"
    name = "ExactMax"
    sqlite_function = "tally_max"


class ExactMin(_ExactAggregate):
    function = "MIN"
    name = "ExactMin"
    sqlite_function = "tally_min"


# --- SQLite functions, registered on each new connection (see MeteringConfig.ready) ---


def _sqlite_number(json_text: str | None) -> str | None:
    number = number_from_json(json_text)
    return None if number is None else str(number)


class _SqliteSum:
    def __init__(self):
        self.total: Decimal | None = None

    def step(self, value):
        if value is not None:
            number = Decimal(value)
            self.total = number if self.total is None else _EXACT.add(self.total, number)

    def finalize(self):
        return None if self.total is None else str(self.total)


class _SqliteExtreme:
    keep_larger = True

    def __init__(self):
        self.best: Decimal | None = None

    def step(self, value):
        if value is None:
            return
        number = Decimal(value)
        if self.best is None or (number > self.best if self.keep_larger else number < self.best):
            self.best = number

    def finalize(self):
        return None if self.best is None else str(self.best)


class _SqliteMax(_SqliteExtreme):
    keep_larger = True


class _SqliteMin(_SqliteExtreme):
    keep_larger = False


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: the exact Decimal functions the expressions use."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("tally_number", 1, _sqlite_number, deterministic=True)
    raw.create_function("tally_json_text", 1, text_from_json, deterministic=True)
    raw.create_aggregate("tally_sum", 1, _SqliteSum)
    raw.create_aggregate("tally_max", 1, _SqliteMax)
    raw.create_aggregate("tally_min", 1, _SqliteMin)
