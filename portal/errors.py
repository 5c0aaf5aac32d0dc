"""Styled error pages. The 500 handler renders without context processors or database access."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.template import loader


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    body = loader.render_to_string("404.html", {"request_path": request.path}, request)
    return HttpResponseNotFound(body)


def server_error(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    body = loader.get_template("500.html").render({"MSP_NAME": settings.MSP_NAME})
    return HttpResponseServerError(body)
