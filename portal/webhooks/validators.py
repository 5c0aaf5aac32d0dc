"""Which URLs a webhook may be sent to, and the addresses a delivery may connect to.

Production sends only to public https endpoints on port 443 (or a port the MSP lists in
WEBHOOK_ALLOWED_PORTS). Loopback (and plain http to loopback, on any port) is allowed only with
WEBHOOK_ALLOW_LOOPBACK, which defaults to DEBUG (development and the tests).

A URL is checked when a subscription is saved and again before each delivery. The delivery
resolves the host once, checks every address it got, and connects to a checked address
(``portal.webhooks.transport``), so a name that re-resolves to an inner address between the
check and the connection (DNS rebinding) is never reached.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address in their last 32 bits: the IPv4 address is what a
# router or translator finally reaches, so that is the address to judge.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Local-use NAT64 (RFC 8215): translates into the operator's own network; never public.
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
HTTPS_PORT = 443


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL with the addresses it resolved to; deliveries connect only to these."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[Address, ...]


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.version == 4:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """True only for a global unicast address that does not stand for an inner IPv4 one."""
    if address.version == 6 and address in NAT64_LOCAL_USE:
        return False
    inner = embedded_ipv4(address)
    if inner is not None:
        return inner.is_global and not inner.is_multicast
    return address.is_global and not address.is_multicast


def _is_loopback(address: Address) -> bool:
    inner = embedded_ipv4(address)
    return address.is_loopback or (inner is not None and inner.is_loopback)


def _addresses(host: str, port: int) -> tuple[Address, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ValidationError({"url": f"The host {host} could not be resolved."}) from None
    addresses = dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos)
    if not addresses:
        raise ValidationError({"url": f"The host {host} could not be resolved."})
    return tuple(addresses)


def _allowed_ports() -> set[int]:
    return {HTTPS_PORT, *settings.WEBHOOK_ALLOWED_PORTS}


def resolve_webhook_target(url: str, *, allow_loopback: bool | None = None) -> WebhookTarget:
    """Check the URL, resolve its host once and check every address; raise on `url` otherwise."""
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
    port = port or (HTTPS_PORT if parts.scheme == "https" else 80)
    addresses = _addresses(host, port)
    target = WebhookTarget(url, parts.scheme, host, port, addresses)
    if allow_loopback and all(_is_loopback(address) for address in addresses):
        return target
    if parts.scheme != "https":
        raise ValidationError({"url": "Webhook URLs must use https."})
    if port not in _allowed_ports():
        allowed = ", ".join(str(p) for p in sorted(_allowed_ports()))
        raise ValidationError({"url": f"Webhook URLs may only use port {allowed}."})
    if not all(is_public(address) for address in addresses):
        raise ValidationError(
            {"url": f"The host {host} is a private or local address; use a public one."}
        )
    return target


def validate_webhook_url(url: str, *, allow_loopback: bool | None = None) -> str:
    """Return the URL when deliveries may go there; raise ValidationError on `url` otherwise."""
    return resolve_webhook_target(url, allow_loopback=allow_loopback).url
