"""The request or task a log line belongs to, carried in contextvars.

A web request binds `request_id` (and `customer_id` once the customer is known); a task it
enqueues receives both in its message headers and binds them, with its own `task_id`, while it
runs. Log records pick them up through `ContextFilter` (portal.observability.logs).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

FIELDS = ("request_id", "task_id", "customer_id")
_VARS: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in FIELDS}

# A request id taken from a proxy's X-Request-ID header must be harmless in a log line.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def bind(**values: object) -> None:
    """Set the named fields for the rest of this request or task (None leaves a field alone)."""
    for name, value in values.items():
        if value is not None:
            _VARS[name].set(str(value))


def clear() -> None:
    for var in _VARS.values():
        var.set(None)


def current() -> dict[str, str]:
    """The fields set in this context, without the empty ones."""
    return {name: value for name, var in _VARS.items() if (value := var.get()) is not None}


def new_request_id(proposed: str | None = None) -> str:
    """The proxy's id when it looks like one, otherwise a fresh random id."""
    if proposed and _SAFE_ID.fullmatch(proposed):
        return proposed
    return uuid.uuid4().hex
