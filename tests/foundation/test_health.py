import time

import pytest
from django.db import OperationalError
from django.utils import timezone

from portal import health
from portal.models import WorkerHeartbeat
from provisioning import lucidlink


@pytest.fixture(autouse=True)
def _fresh_probe():
    health.forget_lucidlink_probe()
    lucidlink.forget_tokens()
    yield
    health.forget_lucidlink_probe()
    lucidlink.forget_tokens()


@pytest.fixture
def simulator_down(settings):
    # Nothing listens on port 9 (discard) here, so the token request fails fast.
    settings.LUCIDLINK_API_URL = "http://127.0.0.1:9/api/v1"
    settings.LUCIDLINK_TOKEN_URL = "http://127.0.0.1:9/oauth2/token"


@pytest.fixture
def sim_settings(settings, lucidsim):
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    return settings


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


@pytest.mark.django_db
def test_wrong_lucidlink_credentials_make_healthz_say_credentials_refused(client, sim_settings):
    sim_settings.LUCIDLINK_CLIENT_SECRET = "not-the-secret"
    response = client.get("/healthz")
    assert response.status_code == 200  # the database answers: the portal itself is up
    lucid = response.json()["lucidlink"]
    assert lucid["state"] == "credentials_refused"
    assert "refused the API credentials" in lucid["detail"]
    assert "not-the-secret" not in response.content.decode()


@pytest.mark.django_db
def test_right_lucidlink_credentials_make_healthz_say_ok(client, sim_settings, lucidsim):
    response = client.get("/healthz")
    assert response.json()["lucidlink"]["state"] == "ok"
    # A real token was fetched and the API was called with it.
    assert lucidsim.count("token") == 1
    assert lucidsim.count("getDomains") == 1


@pytest.mark.django_db
def test_a_throttled_token_endpoint_is_reported_as_throttled(client, sim_settings, lucidsim):
    lucidsim.add_fault(operation="token", status=429, retry_after=5)
    lucid = client.get("/healthz").json()["lucidlink"]
    assert lucid["state"] == "throttled"


def test_lucidlink_is_probed_at_most_once_per_interval(sim_settings, lucidsim, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    assert health.lucidlink_state()[0] == "ok"
    now[0] += health.LUCIDLINK_PROBE_TTL_SECONDS - 1
    assert health.lucidlink_state()[0] == "ok"
    assert lucidsim.count("token") == 1

    now[0] += 2
    assert health.lucidlink_state()[0] == "ok"
    assert lucidsim.count("token") == 2


def test_changing_the_secret_is_probed_at_once_not_after_the_interval(sim_settings, lucidsim):
    assert health.lucidlink_state()[0] == "ok"
    sim_settings.LUCIDLINK_CLIENT_SECRET = "rotated-but-wrong"
    assert health.lucidlink_state()[0] == "credentials_refused"


def test_liveness_answers_without_touching_any_dependency(client, simulator_down, monkeypatch):
    monkeypatch.setattr(health, "database_state", lambda: pytest.fail("liveness hit the db"))
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_is_503_while_lucidlink_refuses_the_credentials(client, sim_settings):
    sim_settings.LUCIDLINK_CLIENT_SECRET = "not-the-secret"
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["lucidlink"]["state"] == "credentials_refused"
    assert set(body) == {"status", "database", "broker", "lucidlink"}


@pytest.mark.django_db
def test_readiness_is_200_when_database_broker_and_lucidlink_work(client, sim_settings):
    response = client.get("/healthz/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_a_hanging_lucidlink_is_reported_unreachable_within_the_probe_timeout(
    sim_settings, lucidsim
):
    sim_settings.LUCIDLINK_READ_TIMEOUT = 30  # the tasks' timeout; the probe uses its own
    lucidsim.add_fault(operation="token", delay_seconds=health.PROBE_TIMEOUT_SECONDS + 2)
    started = time.monotonic()
    state, detail = health.lucidlink_state()
    assert state == "unreachable"
    assert "timed out" in detail
    assert time.monotonic() - started < health.PROBE_TIMEOUT_SECONDS + 1.5
