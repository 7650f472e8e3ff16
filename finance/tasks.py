"""django-q2 entry points of finance (docs/operations.md, "Schedules")."""

from finance.services import revenue_sync


def revenue_sync_task() -> str:
    """Catch up the revenue schedules of credit notes, voids and anything missed."""
    return str(revenue_sync())
