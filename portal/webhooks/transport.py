"""HTTP to a checked webhook address, with TLS still verified for the URL's host name.

`requests` would resolve the host name again when it connects, and a name can answer a public
address to the check and an inner one to the connection (DNS rebinding). Here the request goes
to the address the check approved; the TLS handshake still sends the host name (SNI) and the
certificate must be valid for it, and the Host header names it, so the receiver sees nothing
unusual.
"""

from __future__ import annotations

import ipaddress

import requests
from requests.adapters import HTTPAdapter

from portal.webhooks.validators import WebhookTarget


class PinnedHostAdapter(HTTPAdapter):
    """Sends SNI and checks the certificate for `hostname` while connecting to an IP address."""

    def __init__(self, hostname: str, **kwargs) -> None:
        self.hostname = hostname
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.hostname
            pool_kwargs["assert_hostname"] = self.hostname
        return host_params, pool_kwargs


def _address_url(target: WebhookTarget, address) -> str:
    """The target URL with its host replaced by the checked address (path and query kept)."""
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    rest = target.url.split("://", 1)[1]
    path_start = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    return f"{target.scheme}://{host}:{target.port}{rest[path_start:]}"


def _host_header(target: WebhookTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default_port = 443 if target.scheme == "https" else 80
    return host if target.port == default_port else f"{host}:{target.port}"


def post_pinned(
    target: WebhookTarget, *, body: bytes, headers: dict[str, str], timeout, verify=True
) -> requests.Response:
    """POST to the first checked address of `target`; redirects are never followed."""
    with requests.Session() as session:
        # No proxies from the environment: a proxy would resolve the name again itself.
        session.trust_env = False
        session.mount(f"{target.scheme}://", PinnedHostAdapter(target.host))
        return session.post(
            _address_url(target, target.addresses[0]),
            data=body,
            headers={**headers, "Host": _host_header(target)},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            verify=verify,
        )
