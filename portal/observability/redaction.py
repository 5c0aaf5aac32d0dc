"""Masks credentials in any text bound for a log: tokens, secrets, Authorization headers.

Shared by the OAuth loggers' filter (provisioning.lucidlink.redaction) and every formatter of
portal.observability.logs, so no log line, plain or JSON, carries a credential.
"""

from __future__ import annotations

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


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text
