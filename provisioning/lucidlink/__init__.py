"""LucidLink Service API client (a package because one module passed ~500 lines).

Import everything from here: `from provisioning import lucidlink` then `lucidlink.get_client()`,
`lucidlink.Unavailable`, `lucidlink.RemoteFilespace` and so on.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .client import LucidLinkClient, allows_plain_http, forget_tokens, parse_retry_after
from .errors import (
    AuthenticationFailed,
    Conflict,
    LucidLinkError,
    MalformedResponse,
    NotFound,
    Rejected,
    Unavailable,
    Unprocessable,
)
from .types import (
    BillingPeriod,
    Domain,
    FilespaceLineItem,
    FilespaceStats,
    FilespaceStorage,
    FilespaceUsage,
    RemoteFilespace,
)

__all__ = [
    "AuthenticationFailed",
    "BillingPeriod",
    "Conflict",
    "Domain",
    "FilespaceLineItem",
    "FilespaceStats",
    "FilespaceStorage",
    "FilespaceUsage",
    "LucidLinkClient",
    "LucidLinkError",
    "MalformedResponse",
    "NotFound",
    "Rejected",
    "RemoteFilespace",
    "Unavailable",
    "Unprocessable",
    "allows_plain_http",
    "forget_tokens",
    "get_client",
    "parse_retry_after",
]


def get_client() -> LucidLinkClient:
    """A client for the MSP's account, built from the LUCIDLINK_* settings."""
    from django.conf import settings

    if not settings.LUCIDLINK_CLIENT_ID or not settings.LUCIDLINK_CLIENT_SECRET:
        raise ImproperlyConfigured("LUCIDLINK_CLIENT_ID and LUCIDLINK_CLIENT_SECRET must be set.")
    try:
        return LucidLinkClient(
            api_url=settings.LUCIDLINK_API_URL,
            token_url=settings.LUCIDLINK_TOKEN_URL,
            client_id=settings.LUCIDLINK_CLIENT_ID,
            client_secret=settings.LUCIDLINK_CLIENT_SECRET,
            connect_timeout=settings.LUCIDLINK_CONNECT_TIMEOUT,
            read_timeout=settings.LUCIDLINK_READ_TIMEOUT,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None
