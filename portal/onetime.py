"""Secrets shown once, across a POST-redirect-GET.

A page that creates a secret (an API key, a webhook signing secret) redirects after the POST, so
a refresh cannot create a second one. The secret rides to the next GET in the session, encrypted
with FIELD_ENCRYPTION_KEYS (sessions are stored server-side), and is removed as it is read: a
second GET, or the same GET refreshed, no longer shows it. The page that shows it is never cached.
"""

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from portal.fields import decrypt, encrypt

_PREFIX = "onetime:"


def stash_secret(request: HttpRequest, slot: str, secret: str) -> None:
    request.session[_PREFIX + slot] = encrypt(secret)


def pop_secret(request: HttpRequest, slot: str) -> str | None:
    token = request.session.pop(_PREFIX + slot, None)
    return decrypt(token) if token else None


def never_cached(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response
