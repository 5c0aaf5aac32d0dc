"""Provisioning through a REAL Celery worker (and beat) against lucidsim, Redis and PostgreSQL.

These tests skip, saying why, when no real broker or no PostgreSQL is configured (see
tests/fixtures/worker.py). They prove what eager mode would hide: messages lost, doubled or
left unacknowledged by a killed worker are recovered by the row's lease and the reconciler.
"""

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest
from celery import Celery

from portal.queues import PROVISIONING, queue_name
from provisioning import lucidlink, tasks
from provisioning.domain import msp_domain_forget
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import ordering
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

State = Filespace.State


@pytest.fixture
def sim(lucidsim):
    lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget_for(lucidsim)
    yield lucidsim
    msp_domain_forget_for(lucidsim)


def msp_domain_forget_for(sim) -> None:
    """Drop the cached domain for the simulator's URL (the worker shares the cache)."""
    client = lucidlink.LucidLinkClient(
        api_url=sim.api_url,
        token_url=sim.token_url,
        client_id=sim.client_id,
        client_secret=sim.client_secret,
        connect_timeout=5,
        read_timeout=10,
    )
    msp_domain_forget(client=client)


def worker_env(sim, **extra: str) -> dict[str, str]:
    env = {
        "LUCIDLINK_API_URL": sim.api_url,
        "LUCIDLINK_TOKEN_URL": sim.token_url,
        "LUCIDLINK_CLIENT_ID": sim.client_id,
        "LUCIDLINK_CLIENT_SECRET": sim.client_secret,
        "LUCIDLINK_READ_TIMEOUT": "5",
        "PROVISIONING_POLL_INTERVAL": "1",
        "PROVISIONING_FIRST_POLL_DELAY": "1",
        "PROVISIONING_RECONCILE_INTERVAL": "1",
        "PROVISIONING_RECONCILE_GRACE": "2",
        "PROVISIONING_LEASE": "5",
        "PROVISIONING_RETRY_BASE": "1",
        "PROVISIONING_READY_POLL_INTERVAL": "1",
    }
    env.update(extra)
    return env


@pytest.fixture
def place(customer_factory, plan_factory):
    """Place orders; `send=False` keeps the create message from leaving (the test sends it)."""
    customer = customer_factory(name_prefix="acme")
    plan = plan_factory()

    def make(name: str = "media", *, send: bool = True) -> Filespace:
        with contextlib.ExitStack() as stack:
            if not send:
                stack.enter_context(mock.patch.object(tasks.create_filespace, "delay"))
            order = ordering.order_place(
                customer=customer,
                plan=plan,
                name=name,
                provider="IBM",
                region="us-east",
                idempotency_key=f"key-{name}",
            )
        return Filespace.objects.get(order=order)

    return make


def wait_for(predicate, worker, *, timeout: float) -> None:
    """wait_until, failing with the worker's log so a timeout explains itself."""
    try:
        wait_until(predicate, timeout=timeout)
    except pytest.fail.Exception:
        pytest.fail(f"condition not met within {timeout}s; worker log:\n{worker.log()}")


def state_of(filespace: Filespace) -> str:
    return Filespace.objects.values_list("state", flat=True).get(pk=filespace.pk)


def test_a_real_worker_and_beat_take_an_order_to_provisioned_then_active(
    sim, place, celery_worker_factory, tmp_path
):
    worker = celery_worker_factory(env=worker_env(sim), beat=True)
    filespace = place()

    wait_until(lambda: state_of(filespace) == State.PROVISIONED, timeout=30)
    filespace.refresh_from_db()
    cli = subprocess.run(
        [
            sim.cli_path, "init-s3", "--fs", filespace.qualified_name,
            "--password", "a-long-root-password-1", "--endpoint", "s3.example.net",
            "--access-key", "AK", "--secret-key", "SK", "--region", "us-east",
            "--provider", "IBM",
        ],
        env={**os.environ, **sim.cli_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr + cli.stdout

    wait_for(lambda: state_of(filespace) == State.ACTIVE, worker, timeout=30)
    kinds = list(filespace.events.values_list("kind", flat=True))
    assert kinds[:3] == ["requested", "create_sent", "created"]
    assert "provisioned" in kinds and kinds[-1] == "active"
    assert sim.count("createFilespace", "acme-media") == 1


def test_a_real_worker_never_retries_before_retry_after(sim, place, celery_worker_factory):
    sim.add_fault(operation="createFilespace", status=429, retry_after=3)
    celery_worker_factory(env=worker_env(sim), beat=False)
    filespace = place()

    wait_until(lambda: state_of(filespace) == State.PROVISIONING, timeout=30)

    creates = [c for c in sim.ledger()["calls"] if c["operation"] == "createFilespace"]
    assert [c["status"] for c in creates] == [429, 201]
    assert creates[1]["at_ms"] - creates[0]["at_ms"] >= 3000


def test_a_worker_killed_after_the_post_and_before_the_commit_creates_exactly_once(
    sim, place, celery_worker_factory
):
    doomed = celery_worker_factory(
        env=worker_env(sim, PROVISIONING_TEST_PAUSE_AFTER_CREATE="60"), beat=False
    )
    filespace = place()
    wait_until(lambda: sim.count("createFilespace", "acme-media") == 1, timeout=30)
    assert state_of(filespace) == State.CREATING  # the POST happened; nothing is recorded yet

    doomed.kill()
    survivor = celery_worker_factory(env=worker_env(sim), beat=True)

    wait_for(
        lambda: state_of(filespace) in (State.PROVISIONING, State.PROVISIONED),
        survivor,
        timeout=60,
    )
    assert sim.count("createFilespace", "acme-media") == 1
    kinds = list(filespace.events.values_list("kind", flat=True))
    assert ProvisioningEvent.Kind.ADOPTED in kinds


def test_the_same_create_delivered_twice_at_once_creates_once(sim, place, celery_worker_factory):
    # A slow POST keeps the first delivery busy while the second one arrives.
    sim.add_fault(operation="createFilespace", delay_seconds=1, times=1)
    celery_worker_factory(env=worker_env(sim), beat=False)
    filespace = place(send=False)

    tasks.create_filespace.delay(filespace.pk)
    tasks.create_filespace.delay(filespace.pk)

    wait_until(lambda: state_of(filespace) == State.PROVISIONING, timeout=30)
    time.sleep(2)  # let the second delivery finish too
    assert sim.count("createFilespace") == 1
    assert Filespace.objects.get(pk=filespace.pk).attempts == 1  # one delivery got the claim


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, workdir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(answers, timeout=10)
    return process


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, on a free port, that the test may restart."""
    port = _free_port()
    state = {"process": _start_redis(port, tmp_path)}

    def restart() -> None:
        state["process"].kill()
        state["process"].wait(timeout=10)
        state["process"] = _start_redis(port, tmp_path)

    yield f"redis://127.0.0.1:{port}/0", restart
    state["process"].kill()
    state["process"].wait(timeout=10)


def test_work_queued_when_redis_restarts_is_not_stuck_after_the_reconciler_runs(
    sim, place, celery_worker_factory, private_redis
):
    broker_url, restart_redis = private_redis
    queue = queue_name(PROVISIONING)  # under the worker fixture's private prefix
    filespaces = [place(f"media{i}", send=False) for i in range(3)]
    sender = Celery("sender", broker=broker_url, set_as_current=False)
    for filespace in filespaces:
        sender.send_task("provisioning.tasks.create_filespace", args=[filespace.pk], queue=queue)
    sender.close()

    restart_redis()  # no persistence: the three queued messages are gone
    worker = celery_worker_factory(env=worker_env(sim, CELERY_BROKER_URL=broker_url), beat=True)

    wait_for(
        lambda: all(state_of(f) in (State.PROVISIONING, State.PROVISIONED) for f in filespaces),
        worker,
        timeout=60,
    )
    for index in range(3):
        assert sim.count("createFilespace", f"acme-media{index}") == 1
    assert "Reconciler re-sent" in worker.log()
