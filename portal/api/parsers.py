"""The API's JSON parser: hostile bodies become a 400 in the API's error shape, never a 500."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _contains_nul(data) -> bool:
    # Iterative, so a body nested just under the parser's limit cannot exhaust the stack here.
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class StrictJSONParser(JSONParser):
    """JSON with no absurd nesting and no NUL characters (PostgreSQL text cannot hold them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if _contains_nul(data):
            raise ParseError("JSON parse error - strings may not contain NUL (\\u0000).")
        return data
