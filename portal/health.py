"""Probes for /healthz and /healthz/ready: each returns (state, detail); "ok" is healthy."""

import hashlib
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from portal.celery import app as celery_app
from provisioning import lucidlink

PROBE_TIMEOUT_SECONDS = 2


def database_state() -> tuple[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means the database does not answer
        return "error", type(exc).__name__
    return "ok", connection.vendor


def broker_state() -> tuple[str, str]:
    transport = settings.CELERY_BROKER_URL.split(":", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # kombu raises transport-specific errors
        return "error", f"{transport}: {type(exc).__name__}"
    return "ok", transport


def worker_state() -> tuple[str, str]:
    """Age of the newest heartbeat; beat schedules one a minute, so over five is stale."""
    from django.utils import timezone

    from portal.models import WorkerHeartbeat

    try:
        newest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    except Exception as exc:  # the database check reports the cause
        return "error", type(exc).__name__
    if newest is None:
        return "unknown", "no heartbeat yet"
    age = int((timezone.now() - newest.last_seen).total_seconds())
    return ("ok" if age <= 300 else "stale"), f"last seen {age}s ago"


# Load balancers probe /healthz every few seconds; LucidLink is asked at most this often per
# process, so a probe never turns into a stream of requests to the vendor's API.
LUCIDLINK_PROBE_TTL_SECONDS = 30
_lucidlink_probe: dict[tuple[str, ...], tuple[float, tuple[str, str]]] = {}


def lucidlink_state() -> tuple[str, str]:
    """A real token fetch and one API call (remembered for 30 s per process).

    States: "ok", "credentials_refused" (the token endpoint refused the client id and secret),
    "unreachable" (no answer), "throttled" (429) or "error" (5xx, a malformed answer, settings).
    """
    key = (
        settings.LUCIDLINK_API_URL,
        settings.LUCIDLINK_TOKEN_URL,
        settings.LUCIDLINK_CLIENT_ID,
        hashlib.sha256(settings.LUCIDLINK_CLIENT_SECRET.encode()).hexdigest(),
    )
    remembered = _lucidlink_probe.get(key)
    if remembered and time.monotonic() - remembered[0] < LUCIDLINK_PROBE_TTL_SECONDS:
        return remembered[1]
    state = _probe_lucidlink()
    _lucidlink_probe[key] = (time.monotonic(), state)
    return state


def forget_lucidlink_probe() -> None:
    """Drop remembered answers (tests, and after rotating credentials)."""
    _lucidlink_probe.clear()


def _probe_lucidlink() -> tuple[str, str]:
    try:
        client = lucidlink.get_client()
        # A probe answers within seconds whatever the tasks' timeouts are.
        client.use_timeouts(PROBE_TIMEOUT_SECONDS, PROBE_TIMEOUT_SECONDS)
        client.check_access()
    except ImproperlyConfigured as exc:
        return "error", str(exc)
    except lucidlink.AuthenticationFailed as exc:
        return "credentials_refused", exc.message
    except lucidlink.MalformedResponse as exc:
        return "error", exc.message
    except lucidlink.Unavailable as exc:
        if exc.status is None:
            return "unreachable", exc.message
        return ("throttled" if exc.status == 429 else "error"), exc.message
    except lucidlink.LucidLinkError as exc:
        return "error", exc.message
    return "ok", "token fetched, API answered"
