"""Deployment checks that Django's own `check --deploy` does not know about."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@register(Tags.security, deploy=True)
def lucidlink_points_at_a_real_account(app_configs, **kwargs) -> list[Warning]:
    host = urlsplit(settings.LUCIDLINK_API_URL).hostname
    if host in LOOPBACK_HOSTS:
        return [
            Warning(
                "LUCIDLINK_API_URL points at a local simulator.",
                hint="Set LUCIDLINK_API_URL, LUCIDLINK_TOKEN_URL and the client credentials "
                "of the MSP's LucidLink account.",
                id="portal.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def broker_is_a_real_server(app_configs, **kwargs) -> list[Warning]:
    if settings.CELERY_BROKER_URL.startswith(("filesystem", "memory")):
        return [
            Warning(
                "CELERY_BROKER_URL uses a development transport.",
                hint="Set CELERY_BROKER_URL to the Redis server the workers share.",
                id="portal.W002",
            )
        ]
    return []


PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.security, Tags.caches)
def rate_limits_share_one_cache(app_configs, **kwargs) -> list[Error]:
    """Without DEBUG, refuse a process-local cache: each worker would count failures alone.

    Login, signup and API rate limits count in the default cache; with three gunicorn workers a
    process-local cache lets an attacker try three times the limit. Registered as a normal
    check (not only for --deploy), so `migrate` and `runserver` stop on it too.
    """
    if settings.DEBUG:
        return []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PROCESS_LOCAL_CACHES:
        return [
            Error(
                "The default cache is local to each process, so rate limits are not shared.",
                hint="Set REDIS_URL to the Redis server every web process shares.",
                id="portal.E001",
            )
        ]
    return []
