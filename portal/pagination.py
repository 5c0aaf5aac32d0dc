"""Paging helpers shared by list pages."""

from django.core.paginator import Paginator


class CountedPaginator(Paginator):
    """A paginator told its row count by an aggregate the page reads anyway, so paging a list
    adds no ``COUNT(*)`` over the rows behind it."""

    def __init__(self, object_list, per_page, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count
