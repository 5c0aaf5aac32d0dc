import pytest
from django.db import OperationalError
from django.utils import timezone

from portal import health
from portal.models import WorkerHeartbeat


@pytest.fixture
def simulator_down(settings):
    # Nothing listens on port 9 (discard) here, so the API probe fails fast.
    settings.LUCIDLINK_API_URL = "http://127.0.0.1:9/api/v1"


@pytest.mark.django_db
def test_healthz_answers_200_with_each_dependency(client, simulator_down):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["state"] == "ok"
    assert body["lucidlink"]["state"] == "unreachable"
    assert set(body) == {"status", "database", "broker", "worker", "lucidlink"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_does_not(client, monkeypatch, simulator_down):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"state": "error", "detail": "OperationalError"}


@pytest.mark.django_db
def test_worker_state_turns_stale_after_five_minutes():
    WorkerHeartbeat.objects.create(
        hostname="w1", last_seen=timezone.now() - timezone.timedelta(minutes=6)
    )
    state, detail = health.worker_state()
    assert state == "stale"
    assert "s ago" in detail


@pytest.mark.django_db
def test_worker_state_is_unknown_before_any_heartbeat():
    assert health.worker_state() == ("unknown", "no heartbeat yet")


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


def test_lucidlink_is_probed_at_most_once_per_interval(monkeypatch, settings):
    settings.LUCIDLINK_API_URL = "http://127.0.0.1:9/probe-once/api/v1"
    calls = []

    def fake_get(url, timeout):
        calls.append(url)
        raise health.requests.ConnectionError("refused")

    monkeypatch.setattr(health.requests, "get", fake_get)
    assert health.lucidlink_state() == ("unreachable", "ConnectionError")
    assert health.lucidlink_state() == ("unreachable", "ConnectionError")
    assert len(calls) == 1

    monkeypatch.setattr(health.time, "monotonic", lambda: 10**9)
    health.lucidlink_state()
    assert len(calls) == 2
