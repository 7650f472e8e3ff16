"""Moments as the console shows them: the day alone at midnight UTC (every period of a day or
longer starts there), the time too otherwise (docs/operations.md, "The console")."""

from datetime import UTC, datetime


def moment_text(value: datetime | None) -> str:
    """ "Nov 1, 2026" at midnight UTC, else "Nov 1, 2026 13:49 UTC"; None → "—"."""
    if value is None:
        return "—"
    value = value.astimezone(UTC)
    day = f"{value:%b} {value.day}, {value.year}"
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return day
    return f"{day} {value:%H:%M} UTC"
