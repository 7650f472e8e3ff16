"""Demo data for the customers app, loaded by `manage.py seed_demo` (idempotent)."""

from datetime import datetime


def seed(*, at: datetime) -> str:
    return ""
