"""One middleware for every request: bind its request id, count it and time it."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from . import context, metrics

# Requests that match no URL pattern share one label, so scanners cannot mint new series.
UNRESOLVED = "<unresolved>"


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
        # The ids stay bound until the response is closed (request_finished), so Django's own
        # "Not Found" and error lines, written after the middleware returns, carry them too.
        return response


@receiver(request_finished, dispatch_uid="observability-clear-context")
def _clear_context(**kwargs) -> None:
    context.clear()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    # An unnamed pattern's view_name is the view's dotted path: still one value per route.
    return match.view_name or UNRESOLVED
