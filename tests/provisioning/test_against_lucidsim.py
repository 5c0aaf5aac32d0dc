"""Provisioning through the real client against lucidsim as a real HTTP server.

Tasks run in this process, one delivery at a time, so each fault's effect can be checked step by
step; tests/provisioning/test_real_worker.py runs the same flow through a real Celery worker.
"""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink, tasks
from provisioning.domain import msp_domain_forget
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import ordering
from tests.fixtures.worker import wait_until
from tests.provisioning.conftest import RetryCalled

State = Filespace.State
Kind = ProvisioningEvent.Kind


@pytest.fixture
def sim(lucidsim, settings, monkeypatch):
    """lucidsim with the MSP's domain `msp`, and the portal's settings pointing at it."""
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    settings.LUCIDLINK_READ_TIMEOUT = 2
    settings.PROVISIONING_RETRY_BASE = 1
    lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget()
    yield lucidsim
    lucidlink.forget_tokens()
    msp_domain_forget()


@pytest.fixture
def order(customer_factory, plan_factory, monkeypatch):
    """Place an order (the create task is run by the test, not sent to a broker)."""
    monkeypatch.setattr(tasks.create_filespace, "delay", lambda *a, **k: None)
    customer = customer_factory(name_prefix="acme")
    plan = plan_factory()

    def place(name="media", region="us-east") -> Filespace:
        placed = ordering.order_place(
            customer=customer,
            plan=plan,
            name=name,
            provider="IBM",
            region=region,
            idempotency_key=f"key-{name}",
        )
        return Filespace.objects.get(order=placed)

    return place


def deliver(filespace: Filespace, *, max_deliveries: int = 10) -> list[float]:
    """Deliver create_filespace until the row leaves requested/creating; return the countdowns.

    Each retry's backoff is skipped by making the row due again, as the countdown would.
    """
    countdowns: list[float] = []
    original = tasks.create_filespace.retry

    def retry(*args, countdown=None, **kwargs):
        countdowns.append(countdown)
        raise RetryCalled(countdown)

    tasks.create_filespace.retry = retry
    try:
        for _ in range(max_deliveries):
            try:
                tasks.create_filespace(filespace.pk)
            except RetryCalled:
                Filespace.objects.filter(pk=filespace.pk).update(next_poll_at=timezone.now())
            filespace.refresh_from_db()
            if filespace.state not in (State.REQUESTED, State.CREATING):
                break
    finally:
        tasks.create_filespace.retry = original
    return countdowns


def sweep(filespace: Filespace) -> Filespace:
    Filespace.objects.filter(pk=filespace.pk).update(next_poll_at=timezone.now())
    tasks.poll_filespaces()
    filespace.refresh_from_db()
    return filespace


def remote_count(sim, name: str) -> int:
    response = sim.api("GET", f"/filespaces?qualifiedName={name}.msp")
    return len(response.json())


def test_an_order_reaches_provisioned_then_active_after_init_s3(sim, order, tmp_path):
    filespace = order()

    deliver(filespace)
    assert filespace.state == State.PROVISIONING
    assert sweep(filespace).state == State.PROVISIONED
    assert Order.objects.get(pk=filespace.order_id).state == Order.State.FULFILLED

    cli = subprocess.run(
        [
            sim.cli_path, "init-s3", "--fs", filespace.qualified_name,
            "--password", "a-long-root-password-1", "--endpoint", "s3.us-east.example.net",
            "--access-key", "AK", "--secret-key", "SK", "--region", "us-east",
            "--provider", "IBM",
        ],
        env={**os.environ, **sim.cli_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr + cli.stdout

    assert sweep(filespace).state == State.ACTIVE
    assert [e.kind for e in filespace.events.all()] == [
        Kind.REQUESTED,
        Kind.CREATE_SENT,
        Kind.CREATED,
        Kind.PROVISIONED,
        Kind.ACTIVE,
    ]
    assert sim.count("createFilespace", "acme-media") == 1


def test_a_slow_provisioning_is_polled_until_ready(sim, order):
    sim.set_delay(60)
    filespace = order()
    deliver(filespace)

    assert sweep(filespace).state == State.PROVISIONING
    sim.advance_clock(61)
    assert sweep(filespace).state == State.PROVISIONED


def test_throttling_with_retry_after_waits_at_least_that_long(sim, order, capture_retry):
    sim.add_fault(operation="createFilespace", status=429, retry_after=30)
    filespace = order()

    with pytest.raises(RetryCalled):
        tasks.create_filespace(filespace.pk)

    assert capture_retry[0] >= 30
    filespace.refresh_from_db()
    assert filespace.state == State.REQUESTED
    assert filespace.next_poll_at >= timezone.now() + timedelta(seconds=29)
    tasks.create_filespace(filespace.pk)  # a duplicate delivery during the wait
    assert sim.count("createFilespace") == 1


def test_a_burst_of_server_errors_is_retried_until_one_filespace_exists(sim, order):
    sim.add_fault(operation="createFilespace", status=500, times=2)
    sim.add_fault(operation="createFilespace", status=503, times=2)
    filespace = order()

    countdowns = deliver(filespace)

    assert len(countdowns) == 4
    assert countdowns == sorted(countdowns) or max(countdowns) <= 16
    assert filespace.state == State.PROVISIONING
    assert remote_count(sim, "acme-media") == 1
    assert [e.kind for e in filespace.events.all()].count(Kind.RETRY) == 4


def test_a_timed_out_create_that_succeeded_remotely_is_adopted_not_repeated(
    sim, order, capture_retry
):
    # LucidLink creates the filespace but answers after the client gave up (read timeout 2 s).
    sim.add_fault(operation="createFilespace", delay_seconds=3)
    filespace = order()
    with pytest.raises(RetryCalled):
        tasks.create_filespace(filespace.pk)
    wait_until(lambda: sim.count("createFilespace") == 1, timeout=10)

    deliver(filespace)

    assert filespace.state in (State.PROVISIONING, State.PROVISIONED)
    assert filespace.remote_id is not None
    assert sim.count("createFilespace") == 1
    assert remote_count(sim, "acme-media") == 1
    assert Kind.ADOPTED in [e.kind for e in filespace.events.all()]


def test_an_unreadable_answer_is_retried(sim, order):
    sim.add_fault(operation="createFilespace", status=201, body="<html>oops")
    filespace = order()

    countdowns = deliver(filespace)

    assert len(countdowns) == 1
    assert filespace.state == State.PROVISIONING
    assert remote_count(sim, "acme-media") == 1


def test_expired_and_revoked_tokens_mid_run_are_replaced(sim, order):
    filespace = order()
    deliver(filespace)

    sim.expire_tokens()
    assert sweep(filespace).state == State.PROVISIONED
    sim.revoke_tokens()
    sim.set_status(filespace.remote_id, "initialized")
    assert sweep(filespace).state == State.ACTIVE
    assert sim.count("token") >= 3


def test_a_disabled_region_fails_the_order_telling_the_customer_to_choose_another(sim, order):
    sim.disable_region("IBM", "eu-de")
    filespace = order(region="eu-de")

    countdowns = deliver(filespace)

    assert countdowns == []
    assert filespace.state == State.ERROR
    assert filespace.last_error == (
        "Filespace creation is currently disabled in region eu-de. "
        "Choose another region and order again."
    )
    assert Order.objects.get(pk=filespace.order_id).state == Order.State.FAILED
    failed = filespace.events.get(kind=Kind.FAILED)
    assert failed.api_status == 422


def test_a_filespace_with_our_name_that_is_not_ours_fails_with_a_clear_reason(sim, order):
    domain_id = sim.api("GET", "/domains").json()[0]["id"]
    made_elsewhere = sim.api(
        "POST",
        "/filespaces",
        {
            "domain": domain_id,
            "name": "acme-media",
            "subscriptionType": "teams",
            "storage": {"owner": "lucidlink", "provider": "IBM", "region": "jp-tok"},
        },
    )
    assert made_elsewhere.status_code == 201, made_elsewhere.text
    filespace = order()

    deliver(filespace)

    assert filespace.state == State.ERROR
    assert filespace.remote_id is None
    assert "already used by another filespace at LucidLink" in filespace.last_error
    # Even a filespace that matched the order field for field would not be adopted: the name was
    # taken before this order sent any POST, so it cannot be one this order created.
    assert "existed before this order asked LucidLink for anything" in filespace.last_error
    assert remote_count(sim, "acme-media") == 1  # still only the one made elsewhere
    assert filespace.events.get(kind=Kind.FAILED).api_status == 409


def test_a_409_for_a_name_the_portal_cannot_see_fails_with_a_clear_reason(sim, order):
    sim.add_fault(operation="createFilespace", status=409)
    filespace = order()

    deliver(filespace)

    assert filespace.state == State.ERROR
    # The row's first POST answered 409: the name was taken before this order sent anything.
    assert "existed before this order asked LucidLink for anything" in filespace.last_error


def test_deleting_waits_for_provisioning_then_ends_deleted(sim, order, user_factory):
    from provisioning import services

    sim.set_delay(60)
    filespace = order()
    deliver(filespace)
    staff = user_factory("s@example.com", is_staff=True, mfa=True)
    services.filespace_delete(filespace=filespace, acting_user=staff)

    original = tasks.delete_filespace.retry
    tasks.delete_filespace.retry = lambda *a, countdown=None, **k: RetryCalled(countdown)
    try:
        with pytest.raises(RetryCalled):
            tasks.delete_filespace(filespace.pk)
    finally:
        tasks.delete_filespace.retry = original
    assert Filespace.objects.get(pk=filespace.pk).state == State.DELETING

    sim.advance_clock(61)
    Filespace.objects.filter(pk=filespace.pk).update(next_poll_at=timezone.now())
    tasks.delete_filespace(filespace.pk)

    assert Filespace.objects.get(pk=filespace.pk).state == State.DELETED
    assert remote_count(sim, "acme-media") == 0


def test_a_batch_whose_first_answer_is_lost_creates_each_filespace_once(sim, order, monkeypatch):
    """Three never-tried orders go out in one batch; LucidLink acts on the first POST and the
    connection drops. That row adopts its filespace on the next attempt; the two rows never
    sent are sent afterwards; LucidLink sees one create per name."""
    monkeypatch.setattr(tasks.create_filespace, "apply_async", lambda *a, **k: None)
    monkeypatch.setattr(tasks.poll_filespaces, "apply_async", lambda *a, **k: None)
    sim.add_fault(operation="createFilespace", drop_after=True)
    first, second, third = (order(name) for name in ("media0", "media1", "media2"))

    tasks.create_filespace(first.pk)

    assert sim.count("createFilespace") == 1
    for row in (first, second, third):
        row.refresh_from_db()
        assert row.state == State.REQUESTED
    assert (second.attempts, second.create_sent_at) == (0, None)
    Filespace.objects.filter(state=State.REQUESTED).update(next_poll_at=timezone.now())

    tasks.create_filespace(first.pk)  # attempt 2: looks the name up and adopts
    tasks.create_filespace(second.pk)  # a first attempt again: takes the third along

    for row in (first, second, third):
        row.refresh_from_db()
        assert row.state in (State.PROVISIONING, State.PROVISIONED)
        assert sim.count("createFilespace", row.remote_name) == 1
        assert remote_count(sim, row.remote_name) == 1
    assert Kind.ADOPTED in [e.kind for e in first.events.all()]
    assert sim.count("createFilespace") == 3
