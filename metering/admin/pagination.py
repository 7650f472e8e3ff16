"""Pagination of the event debugger without counting the events table.

Counting every event matching a filter costs a scan of all of them (seconds on tens of
millions of rows), on every page view. This paginator reads the page asked for plus one
row, and knows only whether a next page exists (docs/performance.md).
"""

from contextlib import contextmanager
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db import connections, transaction


class NextPagePaginator(Paginator):
    """Pages 1 … current + 1: `count` stops one row past the page shown."""

    def __init__(self, object_list, per_page, *, page_number: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(page_number, 1)

    @cached_property
    def _rows(self) -> list:
        offset = (self.page_number - 1) * self.per_page
        rows = self.object_list[offset : offset + self.per_page + 1]
        with without_jit(rows.db):
            return list(rows)

    @cached_property
    def count(self) -> int:
        return (self.page_number - 1) * self.per_page + len(self._rows)

    @property
    def has_more(self) -> bool:
        return len(self._rows) > self.per_page

    def page(self, number):
        number = self.validate_number(number)
        if number != self.page_number:
            return super().page(number)
        return Page(self._rows[: self.per_page], number, self)


def page_number_from(request) -> int:
    try:
        return int(request.GET.get("p", 1))
    except ValueError:
        return 1


@contextmanager
def without_jit(alias: str):
    """PostgreSQL's JIT compiles a query whose estimated cost is high, and a status filter's
    page, estimated over its whole window, is one: compiling its expressions took seconds
    to read 51 rows (docs/performance.md). Off for this transaction only."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield
