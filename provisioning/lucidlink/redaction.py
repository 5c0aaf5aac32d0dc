"""Keeps credentials out of log records written by the OAuth libraries.

requests-oauthlib logs, at DEBUG, the token it obtained, the headers it sent (HTTP Basic with
the client secret, `Bearer <token>`) and the token endpoint's raw answer. A deployment that turns
DEBUG on for troubleshooting must not leak them, so a filter on those loggers masks the values
before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# Each pattern keeps its first group (the name) and masks what follows it.
_PATTERNS = [
    # 'access_token': 'abc'  "access_token":"abc"  access_token=abc  (dict reprs, JSON, forms)
    re.compile(
        r"""(["']?(?:access_token|refresh_token|id_token|client_secret|password)["']?"""
        r"""\s*[:=]\s*["']?)[^"'&,\s}]+""",
        re.IGNORECASE,
    ),
    # 'Authorization': 'Basic Y2xp...' or Authorization: Bearer abc
    re.compile(r"""(["']?authorization["']?\s*[:=]\s*["']?)[^"'\r\n}]+""", re.IGNORECASE),
    # A bare scheme and credential anywhere else.
    re.compile(r"""(\b(?:basic|bearer)\s+)[A-Za-z0-9._~+/=-]{6,}""", re.IGNORECASE),
]

# Loggers known to print credentials at DEBUG. A logger's filters see only records logged to
# that exact logger, so each module's logger is named (oauthlib's client side logs nothing).
SENSITIVE_LOGGERS = ("requests_oauthlib.oauth2_session",)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


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
