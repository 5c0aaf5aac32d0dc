"""One middleware for every request: bind its request id, count it, time it and log it.

The access line (logger `portal.access`) replaces gunicorn's: it carries the request id, the
customer once known, the view, status and duration as JSON fields. Probes (health checks and
scrapes) are logged at DEBUG so they do not bury everything else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from . import context, metrics

access_log = logging.getLogger("portal.access")
# Requests that match no URL pattern share one label, so scanners cannot mint new series.
UNRESOLVED = "<unresolved>"
PROBE_VIEWS = frozenset({"healthz", "healthz-live", "healthz-ready", "metrics"})


class ObservabilityMiddleware:
    """First in the chain: every later middleware and view logs with this request's id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context.clear()
        request_id = context.new_request_id(request.headers.get("X-Request-ID"))
        context.bind(request_id=request_id)
        started = time.monotonic()
        response = self.get_response(request)
        elapsed = time.monotonic() - started
        view = _view_name(request)
        method = request.method if request.method in _METHODS else "other"
        metrics.http_requests.labels(view, method, str(response.status_code)).inc()
        metrics.http_request_duration.labels(view, method).observe(elapsed)
        response["X-Request-ID"] = request_id
        _log_access(request, response, view=view, elapsed=elapsed)
        # The ids stay bound until the response is closed (request_finished), so Django's own
        # "Not Found" and error lines, written after the middleware returns, carry them too.
        return response


@receiver(request_finished, dispatch_uid="observability-clear-context")
def _clear_context(**kwargs) -> None:
    context.clear()


def _log_access(request: HttpRequest, response: HttpResponse, *, view: str, elapsed: float):
    level = logging.DEBUG if view in PROBE_VIEWS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round(elapsed * 1000, 1)
    # The path only, never the query string, which may carry tokens (allauth's links do).
    access_log.log(
        level,
        "%s %s %s %.1fms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "view": view,
            "duration_ms": duration_ms,
        },
    )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    # An unnamed pattern's view_name is the view's dotted path: still one value per route.
    return match.view_name or UNRESOLVED
