"""Deployment checks that Django's own `check --deploy` does not know about."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

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
