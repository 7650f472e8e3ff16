"""Whether the hot raw statements are prepared on PostgreSQL (DATABASE_PREPARED_STATEMENTS).

Django turns psycopg's automatic preparation off (prepare_threshold None) so that connection
poolers keep working; the ingest path's few raw statements ask for it explicitly instead.
"""

from django.conf import settings


def prepared_statements() -> bool | None:
    """psycopg's `prepare=` argument: True prepares the statement once per connection; None
    leaves it to the connection (never, under Django's defaults)."""
    return True if getattr(settings, "DATABASE_PREPARED_STATEMENTS", False) else None
