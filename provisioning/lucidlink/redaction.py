"""Keeps credentials out of log records written by the OAuth libraries.

requests-oauthlib logs, at DEBUG, the token it obtained, the headers it sent (HTTP Basic with
the client secret, `Bearer <token>`) and the token endpoint's raw answer. A deployment that turns
DEBUG on for troubleshooting must not leak them, so a filter on those loggers masks the values
before any handler sees the record.
"""

from __future__ import annotations

import logging

from portal.observability.redaction import REDACTED, redact

__all__ = ["REDACTED", "SENSITIVE_LOGGERS", "RedactCredentials", "install", "redact"]

# Loggers known to print credentials at DEBUG. A logger's filters see only records logged to
# that exact logger, so each module's logger is named (oauthlib's client side logs nothing).
SENSITIVE_LOGGERS = ("requests_oauthlib.oauth2_session",)


class RedactCredentials(logging.Filter):
    """Renders the record's message once, masked, so no handler formats the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # A record whose arguments do not format: drop the arguments.
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


def install() -> None:
    """Attach the filter once to every sensitive logger (idempotent)."""
    for name in SENSITIVE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactCredentials) for existing in logger.filters):
            logger.addFilter(RedactCredentials())
