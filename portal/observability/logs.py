"""Log records as JSON lines (production) or plain text (development), with context fields.

`LOG_FORMAT=json` (the default when DEBUG is off) writes one JSON object per line: time, level,
logger, message, the request or task id and the customer id when known, and the exception.
Every message passes through the same redaction as the OAuth loggers
(portal.observability.redaction), so a credential that reaches any log line is masked.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from . import context
from .redaction import redact

# Structured fields a caller may pass with `extra=` (the access log does), copied to JSON keys.
EXTRA_FIELDS = ("method", "path", "status", "view", "duration_ms")


class ContextFilter(logging.Filter):
    """Copies the current request/task/customer ids onto the record (handlers may format them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = context.current()
        for name in context.FIELDS:
            setattr(record, name, fields.get(name, "-"))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; secrets masked in the message and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in context.FIELDS:
            value = getattr(record, name, None)
            if value and value != "-":
                entry[name] = value
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                value = getattr(record, name)
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """The development format, with the ids appended when there are any; secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        ids = " ".join(
            f"{name}={value}"
            for name in context.FIELDS
            if (value := getattr(record, name, "-")) and value != "-"
        )
        return f"{text} [{ids}]" if ids else text


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dict for settings.py."""
    formatter = "json" if log_format == "json" else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "portal.observability.logs.ContextFilter"}},
        "formatters": {
            "plain": {
                "()": "portal.observability.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
            "json": {"()": "portal.observability.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # oauthlib logs request bodies (client secret included) at DEBUG; never let it through.
            "oauthlib": {"level": "WARNING"},
            "requests_oauthlib": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
        },
    }
