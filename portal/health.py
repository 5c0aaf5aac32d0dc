"""Probes for /healthz: each returns ("ok" | "error" | "unreachable", detail)."""

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


def lucidlink_state() -> tuple[str, str]:
    """Whether the Service API answers HTTP at all; authentication is not tried here."""
    try:
        response = requests.get(
            settings.LUCIDLINK_API_URL.rstrip("/") + "/domains",
            timeout=(PROBE_TIMEOUT_SECONDS, PROBE_TIMEOUT_SECONDS),
        )
    except requests.RequestException as exc:
        return "unreachable", type(exc).__name__
    if response.status_code >= 500:
        return "error", f"HTTP {response.status_code}"
    return "ok", f"HTTP {response.status_code}"
