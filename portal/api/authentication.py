"""`Authorization: Bearer <key>` authentication with the portal's API keys."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.apikeys.models import ApiKey
from portal.apikeys.services import apikey_authenticate
from portal.observability import context


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`request.auth` is the ApiKey; `request.user` is the person who created it."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, raw = header.decode("latin-1").partition(" ")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The Authorization header is garbled.") from None
        if scheme.lower() != "bearer":
            return None
        key = apikey_authenticate(raw=raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                "This API key is not valid: it is unknown, revoked or no longer allowed."
            )
        # A customer key acts for one customer: its log lines and tasks say which.
        context.bind(customer_id=key.customer_id)
        return key.created_by or AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An MSP or customer API key: `Authorization: Bearer fsp_...`.",
        }


def key_of(request) -> ApiKey:
    return request.auth
