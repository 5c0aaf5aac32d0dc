"""One JSON shape for every API error (docs/api.md, "Errors").

{"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.actions import Refused


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request cannot be processed."


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail) -> dict[str, list[str]]:
    fields = {}
    for name, value in detail.items():
        key = "non_field_errors" if name == NON_FIELD_ERRORS else str(name)
        fields[key] = _flatten(value)
    return fields


def validation_error_from_django(exc: DjangoValidationError) -> exceptions.ValidationError:
    """Services raise Django's ValidationError; the API answers it as a 400 with fields."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


def api_exception_handler(exc, context):
    if isinstance(exc, Refused):
        # An action said no: its stable code and its message, with the status the code implies.
        return error_response(status_code=exc.http_status, code=exc.code, message=exc.message_text)
    if isinstance(exc, DjangoValidationError):
        exc = validation_error_from_django(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _fields(detail)
        messages = [m for values in fields.values() for m in values]
        body = {
            "code": "validation_error",
            "message": messages[0] if len(messages) == 1 else "The request has invalid fields.",
            "fields": fields,
        }
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {
            "code": codes if isinstance(codes, str) else "error",
            "message": " ".join(_flatten(response.data)) if response.data else str(exc),
        }
    response.data = {"error": body}
    return response


def error_response(*, status_code: int, code: str, message: str, fields=None) -> Response:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code)
