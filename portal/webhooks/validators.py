"""Which URLs a webhook may be sent to.

Production sends only to public https endpoints. Loopback (and plain http to loopback) is
allowed only with WEBHOOK_ALLOW_LOOPBACK, which defaults to DEBUG (development and the tests).
A URL is checked when a subscription is saved and again before each delivery, so a host that
later resolves to a private address is not reached.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ValidationError({"url": f"The host {host} could not be resolved."}) from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def validate_webhook_url(url: str, *, allow_loopback: bool | None = None) -> str:
    """Return the URL when deliveries may go there; raise ValidationError on `url` otherwise."""
    if allow_loopback is None:
        allow_loopback = settings.WEBHOOK_ALLOW_LOOPBACK
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": "Enter the URL that should receive the events."})
    if len(url) > 500:
        raise ValidationError({"url": "Keep the URL under 500 characters."})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(
            {"url": "Enter a valid URL, such as https://example.com/hooks."}
        ) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError({"url": "Enter a valid URL, such as https://example.com/hooks."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave credentials out of the URL; deliveries are signed."})
    if parts.fragment:
        raise ValidationError({"url": "Leave the #fragment out of the URL."})
    host = parts.hostname
    addresses = _addresses(host, port or (443 if parts.scheme == "https" else 80))
    loopback = all(address.is_loopback for address in addresses)
    if loopback and allow_loopback:
        return url
    if parts.scheme != "https":
        raise ValidationError({"url": "Webhook URLs must use https."})
    for address in addresses:
        if not address.is_global:
            raise ValidationError(
                {"url": f"The host {host} is a private or local address; use a public one."}
            )
    return url
