"""The fault suite: real workers and beat on PostgreSQL and Redis, faults injected, invariants.

Run with `make chaos` (.ci/chaos starts a private PostgreSQL and Redis for it; nothing shared
is ever restarted). Each scenario injects one fault around real processes, waits until every
order is ready or failed with a reason, then checks every invariant of tests/chaos/invariants.py
and records the time to recover (from the end of the fault to the last order settling).
"""

import time

import pytest

from provisioning import services as provisioning
from provisioning.models import Filespace
from tests.chaos import services as infra
from tests.chaos.conftest import worker_env
from tests.chaos.invariants import check_all, wait_settled
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

State = Filespace.State
# Every order must settle within this many seconds of the fault ending (lease 5 s, reconciler
# every second, poll every second in these settings).
RECOVERY_WINDOW = 60


def settle(chaos_result, sim, filespaces, *, since: float | None = None) -> None:
    started = since if since is not None else time.monotonic()
    waited = wait_settled(filespaces, timeout=RECOVERY_WINDOW)
    recovered = None if waited is None else time.monotonic() - started
    check_all(chaos_result, sim, filespaces, recovered_in=recovered)
    assert chaos_result.passed, chaos_result.checks


def state_of(filespace) -> str:
    return Filespace.objects.values_list("state", flat=True).get(pk=filespace.pk)


# --- Workers killed -----------------------------------------------------------------------------


def test_worker_killed_before_the_create_post(portal, place, celery_worker_factory, chaos_result):
    portal.add_fault(operation="token", delay_seconds=20)
    doomed = celery_worker_factory(env=worker_env(portal))
    filespace = place()
    wait_until(lambda: state_of(filespace) == State.CREATING, timeout=30)
    time.sleep(0.5)  # inside the token call that precedes the POST

    doomed.kill()
    killed_at = time.monotonic()
    celery_worker_factory(env=worker_env(portal), beat=True)

    settle(chaos_result, portal, [filespace], since=killed_at)


def test_worker_killed_during_the_create_post(portal, place, celery_worker_factory, chaos_result):
    portal.add_fault(operation="createFilespace", delay_seconds=15)
    doomed = celery_worker_factory(env=worker_env(portal))
    filespace = place()
    wait_until(
        lambda: Filespace.objects.filter(pk=filespace.pk, create_sent_at__isnull=False).exists(),
        timeout=30,
    )
    time.sleep(0.5)  # the POST is on the wire; LucidLink acts on it after the delay

    doomed.kill()
    killed_at = time.monotonic()
    celery_worker_factory(env=worker_env(portal), beat=True)

    settle(chaos_result, portal, [filespace], since=killed_at)


def test_worker_killed_after_the_post_before_the_commit(
    portal, place, celery_worker_factory, chaos_result
):
    doomed = celery_worker_factory(
        env=worker_env(portal, PROVISIONING_TEST_PAUSE_AFTER_CREATE="60")
    )
    filespace = place()
    wait_until(lambda: portal.count("createFilespace", filespace.remote_name) == 1, timeout=30)

    doomed.kill()
    killed_at = time.monotonic()
    celery_worker_factory(env=worker_env(portal), beat=True)

    settle(chaos_result, portal, [filespace], since=killed_at)


def test_worker_killed_during_the_delete(
    portal, place, celery_worker_factory, chaos_result, user_factory
):
    first = celery_worker_factory(env=worker_env(portal), beat=True)
    filespace = place()
    wait_until(lambda: state_of(filespace) == State.PROVISIONED, timeout=30)
    portal.add_fault(operation="deleteFilespace", delay_seconds=15)
    filespace.refresh_from_db()
    provisioning.filespace_delete(
        filespace=filespace, acting_user=user_factory(is_staff=True, mfa=True)
    )
    wait_until(lambda: Filespace.objects.get(pk=filespace.pk).lease_until is not None, timeout=30)
    time.sleep(0.5)  # the DELETE is on the wire

    first.kill()
    killed_at = time.monotonic()
    celery_worker_factory(env=worker_env(portal), beat=True)

    wait_until(lambda: state_of(filespace) == State.DELETED, timeout=RECOVERY_WINDOW)
    chaos_result.recovered_in = time.monotonic() - killed_at
    gone = filespace.remote_name not in {
        view["name"] for view in portal.control("GET", "/_sim/filespaces")["filespaces"]
    }
    check_all(chaos_result, portal, [filespace], recovered_in=chaos_result.recovered_in)
    chaos_result.checks["deleted at LucidLink"] = gone
    assert chaos_result.passed, chaos_result.checks


def test_two_workers_and_two_beats_at_once(portal, place, celery_worker_factory, chaos_result):
    celery_worker_factory(env=worker_env(portal), beat=True)
    celery_worker_factory(env=worker_env(portal), beat=True)

    started = time.monotonic()
    filespaces = [place(f"media{index}") for index in range(4)]

    settle(chaos_result, portal, filespaces, since=started)


# --- Redis and PostgreSQL -----------------------------------------------------------------------


def test_redis_restarted_with_work_queued(portal, place, celery_worker_factory, chaos_result):
    filespaces = [place(f"media{index}") for index in range(3)]  # queued, no worker yet

    infra.redis_restart()  # without persistence: the queued messages are gone
    restarted_at = time.monotonic()
    celery_worker_factory(env=worker_env(portal), beat=True)

    settle(chaos_result, portal, filespaces, since=restarted_at)


def test_redis_hung_with_work_queued(portal, place, celery_worker_factory, chaos_result):
    celery_worker_factory(env=worker_env(portal), beat=True)
    filespaces = [place(f"media{index}") for index in range(3)]

    infra.redis_freeze(5)
    thawed_at = time.monotonic()

    settle(chaos_result, portal, filespaces, since=thawed_at)


def test_postgresql_restarted_mid_sweep(portal, place, celery_worker_factory, chaos_result):
    portal.set_delay(4)  # rows stay `provisioning` for a few sweeps
    celery_worker_factory(env=worker_env(portal), beat=True)
    filespaces = [place(f"media{index}") for index in range(3)]
    wait_until(lambda: all(state_of(f) == State.PROVISIONING for f in filespaces), timeout=30)

    infra.postgres_restart()
    restarted_at = time.monotonic()

    settle(chaos_result, portal, filespaces, since=restarted_at)


# --- LucidLink misbehaving ----------------------------------------------------------------------

LUCIDLINK_FAULTS = {
    "answers 500": [{"status": 500, "times": 3}],
    "answers 429 with Retry-After": [{"status": 429, "retry_after": 2, "times": 3}],
    "answers 503": [{"status": 503, "times": 3}],
    "hangs past the read timeout": [
        {"operation": "createFilespace", "delay_seconds": 6},
        {"operation": "getFilespace", "delay_seconds": 6},
    ],
    "drops the connection after acting": [{"operation": "createFilespace", "drop_after": True}],
    "returns garbage": [
        {"operation": "createFilespace", "status": 200, "body": "<html>oops</html>"},
        {"operation": "getFilespace", "body": '{"half": '},
        {"operation": "getFilespaces", "body": "[1, 2"},
    ],
    "token endpoint down": [{"operation": "token", "status": 503, "times": 3}],
}


@pytest.mark.parametrize("fault", list(LUCIDLINK_FAULTS))
def test_lucidlink(fault, portal, place, celery_worker_factory, chaos_result):
    chaos_result.scenario = f"LucidLink {fault}"
    celery_worker_factory(env=worker_env(portal), beat=True)
    for spec in LUCIDLINK_FAULTS[fault]:
        portal.add_fault(**spec)

    started = time.monotonic()
    filespaces = [place(f"media{index}") for index in range(2)]

    settle(chaos_result, portal, filespaces, since=started)


def test_lucidlink_clock_jumps_and_every_token_expires(
    portal, place, celery_worker_factory, chaos_result
):
    celery_worker_factory(env=worker_env(portal), beat=True)
    first = place("media0")
    wait_until(lambda: state_of(first) == State.PROVISIONED, timeout=30)

    portal.advance_clock(2 * 3600)  # two hours later at LucidLink: every token has expired
    jumped_at = time.monotonic()
    second = place("media1")

    settle(chaos_result, portal, [first, second], since=jumped_at)
