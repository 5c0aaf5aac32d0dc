"""Middleware that stops hostile input before it reaches a view or the database."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL = "\x00"
NUL_MESSAGE = "The request contains a NUL character (%00), which no field accepts."


def _request_has_nul(request: HttpRequest) -> bool:
    """True when the path, a query or form value, a cookie or a header carries a NUL.

    PostgreSQL text cannot hold NUL, so such a value reaching a query raises DataError (a 500).
    Refusing the request here covers every view, form and filter at once.
    """
    if NUL in request.path or NUL in request.path_info:
        return True
    sources = [request.GET, request.COOKIES]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # Read (and keep) the raw body first: once request.POST has consumed the stream, a view
        # that verifies a signature over request.body would get an exception instead. The
        # portal takes no file uploads; a body past DATA_UPLOAD_MAX_MEMORY_SIZE is refused (400).
        request.body  # noqa: B018
        sources.append(request.POST)
    for source in sources:
        for key, values in source.lists() if hasattr(source, "lists") else source.items():
            if NUL in key or any(NUL in value for value in _as_list(values)):
                return True
    return any(
        isinstance(value, str) and NUL in value
        for key, value in request.META.items()
        if key.startswith("HTTP_")
    )


def _as_list(values) -> list[str]:
    return values if isinstance(values, list) else [values]


def _refusal(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "bad_request", "message": NUL_MESSAGE}}, status=400)
    return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain; charset=utf-8")


class RejectNulMiddleware:
    """Answer 400 to any request whose input carries a NUL character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _request_has_nul(request):
            return _refusal(request)
        return self.get_response(request)
