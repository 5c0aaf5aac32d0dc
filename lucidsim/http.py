"""Small request and response types shared by the API, control and CLI routes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lucidsim.errors import ApiError


class BadJson(ValueError):
    pass


def _refuse(constant: str) -> float:
    # Python's json accepts NaN and Infinity; JSON does not, and they break number rules.
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # Lower-case names.
    body: bytes

    def json(self) -> object:
        """The parsed body; an empty body is ``None``; malformed JSON raises ``BadJson``."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body, parse_constant=_refuse, parse_float=_finite)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadJson("the body is not valid JSON") from None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


# A response that is never sent: the server closes the connection instead (a dropped answer).
DROPPED = -1


def json_response(status: int, data: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers or {})


def error_response(exc: ApiError) -> Response:
    headers = {"X-Lucidsim-Reason": exc.reason} if exc.reason else {}
    return json_response(exc.status, exc.envelope(), headers)


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


def route(method: str, template: str, name: str, handler: Handler) -> Route:
    """``/filespaces/{id}`` becomes a pattern with a named group that stops at a slash."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), name, handler)


def resolve(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict, list[str]]:
    """Return (route, path params, the methods the path answers to)."""
    allowed: list[str] = []
    for candidate in routes:
        match = candidate.pattern.match(path)
        if match is None:
            continue
        if candidate.method == method:
            return candidate, match.groupdict(), [method]
        allowed.append(candidate.method)
    return None, {}, allowed


def not_routed(allowed: list[str], missing_message: str = "Not found.") -> Response:
    """404 for an unknown path; 405 with ``Allow`` for a known path and another method."""
    if not allowed:
        return json_response(404, {"status": 404, "message": missing_message})
    body = {"status": 405, "message": "Method not allowed."}
    return json_response(405, body, {"Allow": ", ".join(allowed)})
