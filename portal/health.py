"""Probes for /healthz: each returns ("ok" | "error" | "unreachable", detail)."""

import time

import requests
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app

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
_lucidlink_probe: dict[str, tuple[float, tuple[str, str]]] = {}


def lucidlink_state() -> tuple[str, str]:
    """Whether the Service API answers HTTP at all (remembered for 30 s); no authentication."""
    url = settings.LUCIDLINK_API_URL
    remembered = _lucidlink_probe.get(url)
    if remembered and time.monotonic() - remembered[0] < LUCIDLINK_PROBE_TTL_SECONDS:
        return remembered[1]
    state = _probe_lucidlink(url)
    _lucidlink_probe[url] = (time.monotonic(), state)
    return state


def _probe_lucidlink(url: str) -> tuple[str, str]:
    try:
        response = requests.get(
            url.rstrip("/") + "/domains",
            timeout=(PROBE_TIMEOUT_SECONDS, PROBE_TIMEOUT_SECONDS),
        )
    except requests.RequestException as exc:
        return "unreachable", type(exc).__name__
    if response.status_code >= 500:
        return "error", f"HTTP {response.status_code}"
    return "ok", f"HTTP {response.status_code}"
