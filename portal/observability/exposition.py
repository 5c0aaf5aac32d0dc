"""Serving metrics: who may read them, and what a web or worker process exposes.

Access: a bearer token (`METRICS_TOKEN`) and/or an IP allowlist (`METRICS_ALLOWED_IPS`, addresses
or networks, matched against the connection's address, never a forwarded header). With neither
set, nobody may read them. The web's `/metrics` adds the database gauges
(portal.observability.collectors) to the counters of every gunicorn worker; a Celery worker
serves its pool's counters on its own port (`WORKER_METRICS_PORT`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .collectors import PortalCollector

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """`10.0.0.0/8`, `127.0.0.1`, `::1` into networks; raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network.") from None
    return networks


def refusal(*, authorization: str, remote_addr: str) -> tuple[int, str] | None:
    """None when the caller may read metrics, else (HTTP status, reason)."""
    token = settings.METRICS_TOKEN
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return 403, "Metrics are disabled: set METRICS_TOKEN or METRICS_ALLOWED_IPS."
    if token:
        scheme, _, offered = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip(), token):
            return None
    if networks and _address_in(remote_addr, networks):
        return None
    if token:
        return 401, "A valid bearer token is required."
    return 403, "This address may not read metrics."


def _address_in(remote_addr: str, networks: list[Network]) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in networks)


def process_registry() -> CollectorRegistry:
    """This process family's counters: every process's files in multiprocess mode."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


_database_registry = CollectorRegistry(auto_describe=False)
_database_registry.register(PortalCollector())


def web_exposition() -> bytes:
    """The web's answer: counters of all web processes, then the database gauges."""
    return generate_latest(process_registry()) + generate_latest(_database_registry)


def worker_exposition() -> bytes:
    return generate_latest(process_registry())


# -- The Celery worker's metrics server ----------------------------------------------------------


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds would flood the worker's log."""


def metrics_app(render: Callable[[], bytes]) -> Callable:
    """A WSGI app serving `render()` at any path to callers `refusal` lets through."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        refused = refusal(
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            remote_addr=environ.get("REMOTE_ADDR", ""),
        )
        if refused:
            status, reason = refused
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
            start_response(f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}", headers)
            return [reason.encode()]
        body = render()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    return app


def serve_worker_metrics(*, address: str, port: int) -> WSGIServer:
    """Start the worker's metrics server on a daemon thread; return it (tests shut it down)."""
    server = make_server(
        address,
        port,
        metrics_app(worker_exposition),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("Worker metrics on http://%s:%s/metrics", address, server.server_port)
    return server
