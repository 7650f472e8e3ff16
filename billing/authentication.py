"""`Authorization: Bearer <api key>` for the public API.

The key is read from the database on every request, so a revoked or deleted key answers 401 on
its very next request, in every worker (docs/api.md). The read is one plain SQL statement of
the columns the request needs, not an ORM query: compiling the queryset was most of the
lookup's CPU (docs/performance.md, "2026-12-07"). On PostgreSQL the lookup is also the
connection's health check (docs/operations.md, "Database connections").
"""

from django.db import Error, NotSupportedError, connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from billing.models import ApiKey, hash_api_key
from billing.preparing import prepared_statements
from billing.throttling import failed_auth_guard

# Everything the request's principal is asked for: the scope (billing/permissions.py), the id
# (throttling), name and prefix (audit log), revoked_at and last_used_at (below).
_FIELDS = ("id", "name", "scope", "prefix", "revoked_at", "last_used_at")


def _lookup_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {', '.join(quote(name) for name in _FIELDS)} "
        f"FROM {quote(ApiKey._meta.db_table)} WHERE {quote('key_hash')} = %s"
    )


def api_key_find(*, key_hash: str) -> ApiKey | None:
    """The key with this hash (only the fields of _FIELDS loaded), or None."""
    if connection.vendor == "postgresql":
        row = _find_postgresql(key_hash)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_lookup_sql(), [key_hash])
            row = cursor.fetchone()
        if row is not None:  # SQLite returns the datetimes as text
            convert = connection.ops.convert_datetimefield_value
            row = (*row[:4], *(convert(value, None, connection) for value in row[4:]))
    if row is None:
        return None
    return ApiKey.from_db(connection.alias, list(_FIELDS), row)


def _find_postgresql(key_hash: str):
    """The key's row through a plain psycopg cursor, as a prepared statement.

    With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before a request's first query: this query
    takes its place. It is a read, so when it fails on a connection that turns out to be
    unusable (the server restarted, the connection was dropped), it runs again on a new one,
    as the health check would have done one round trip earlier. The same when a migration
    changed a column's type under the prepared statement ("cached plan must not change result
    type"): a new connection prepares it afresh.
    """
    checking = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
    )
    if checking:
        connection.health_check_done = True  # this query is the check
    try:
        return _select(key_hash)
    except Error as error:
        if connection.in_atomic_block:
            raise
        if not isinstance(error, NotSupportedError) and not (
            checking and not connection.is_usable()
        ):
            raise
        connection.close()
    return _select(key_hash)


def _select(key_hash: str):
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_lookup_sql(), [key_hash], prepare=prepared_statements())
        return cursor.fetchone()


def api_key_touch(api_key: ApiKey) -> None:
    """Record that the key was used: at most once a minute, so no write on every request."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


class ApiKeyUser:
    """The request's principal when it came with an API key (not a Django user)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = f"key:{api_key.pk}"

    def __str__(self) -> str:
        return f"api-key:{self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        failed_auth_guard(request)  # an address guessing keys is refused before any lookup
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw_key = header[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Malformed API key.") from error
        api_key = api_key_find(key_hash=hash_api_key(raw_key))
        if api_key is None or not api_key.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword
