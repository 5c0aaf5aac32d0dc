from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first by id: stable under inserts, so a walk never skips or repeats a row."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        """DRF's cursor, refused like any other invalid cursor when its position is not an id."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            position = str(cursor.position)
            if not position.isascii() or not position.isdigit() or len(position) > 19:
                raise NotFound(self.invalid_cursor_message)
        return cursor
