"""Pagination of the event debugger without counting the events table.

Counting every event matching a filter costs a scan of all of them (seconds on tens of
millions of rows), on every page view. This paginator reads the page asked for plus one
row, and knows only whether a next page exists (docs/performance.md).
"""

from functools import cached_property

from django.core.paginator import Page, Paginator


class NextPagePaginator(Paginator):
    """Pages 1 … current + 1: `count` stops one row past the page shown."""

    def __init__(self, object_list, per_page, *, page_number: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(page_number, 1)

    @cached_property
    def _rows(self) -> list:
        offset = (self.page_number - 1) * self.per_page
        return list(self.object_list[offset : offset + self.per_page + 1])

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
