"""The finance pages' and endpoints' inputs: months, dates and their bounds (docs/api.md,
"Finance"). A bad value is a 400 (AppError) naming the parameter, never a 500."""

import re
from dataclasses import dataclass
from datetime import date

from billing.errors import AppError
from finance.recognition import month_of, months_between

MAX_REPORT_MONTHS = 60  # the revenue report: five years at most
MAX_EXPORT_DAYS = 366  # an export: a year at most (run several for more)
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)
_MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")
_DAY = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})\Z")


@dataclass(frozen=True, slots=True)
class MonthRange:
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class DateRange:
    first: date
    last: date  # included


def parse_month(text: str, *, name: str) -> date:
    match = _MONTH.match(text or "")
    if match is None:
        raise AppError({name: ["A month as YYYY-MM, e.g. 2026-01."]})
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise AppError({name: ["A month as YYYY-MM, e.g. 2026-01."]})
    return _bounded(date(year, month, 1), name=name)


def parse_day(text: str, *, name: str) -> date:
    match = _DAY.match(text or "")
    try:
        if match is None:
            raise ValueError
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise AppError({name: ["A date as YYYY-MM-DD, e.g. 2026-01-31."]}) from None
    return _bounded(day, name=name)


def month_range(first_text: str, last_text: str, *, today: date) -> MonthRange:
    """`from`/`to` months (both included); absent: the twelve months up to today's."""
    last = parse_month(last_text, name="to") if last_text else month_of(today)
    if first_text:
        first = parse_month(first_text, name="from")
    else:
        first = months_between(date(last.year - 1, last.month, 1), last)[1]
    if first > last:
        raise AppError({"from": ["Must not be after 'to'."]})
    if len(months_between(first, last)) > MAX_REPORT_MONTHS:
        raise AppError({"to": [f"At most {MAX_REPORT_MONTHS} months from 'from'."]})
    return MonthRange(first, last)


def date_range(first_text: str, last_text: str) -> DateRange:
    """`from`/`to` days (both included, UTC), both required."""
    first = parse_day(first_text, name="from")
    last = parse_day(last_text, name="to")
    if first > last:
        raise AppError({"from": ["Must not be after 'to'."]})
    if (last - first).days + 1 > MAX_EXPORT_DAYS:
        raise AppError({"to": [f"At most {MAX_EXPORT_DAYS} days from 'from'."]})
    return DateRange(first, last)


def _bounded(day: date, *, name: str) -> date:
    if not EARLIEST <= day <= LATEST:
        raise AppError({name: [f"Out of range: from {EARLIEST} to {LATEST}."]})
    return day
