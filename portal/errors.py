"""Styled error pages. The 500 handler renders without context processors or database access."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.middleware.csp import get_nonce
from django.template import loader


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    body = loader.render_to_string("404.html", {"request_path": request.path}, request)
    return HttpResponseNotFound(body)


def server_error(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    # The page's one inline <style> carries the response's CSP nonce.
    context = {"MSP_NAME": settings.MSP_NAME, "csp_nonce": get_nonce(request) or ""}
    body = loader.get_template("500.html").render(context)
    return HttpResponseServerError(body)
