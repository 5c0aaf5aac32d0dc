"""poll_filespaces and reconcile_filespaces against a fake client."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink, services, tasks
from provisioning.models import Filespace, ProvisioningEvent

State = Filespace.State
Kind = ProvisioningEvent.Kind


@pytest.fixture
def polled(fake_client, filespace_factory):
    """A filespace that LucidLink is provisioning, due for a status check."""

    def make(name="media", status="provisioning", **overrides):
        remote = fake_client.add(f"cust1-{name}", status=status)
        fields = {
            "state": State.PROVISIONING,
            "remote_id": remote.id,
            "domain_name": "msp",
            "next_poll_at": timezone.now() - timedelta(seconds=1),
            "poll_deadline": timezone.now() + timedelta(minutes=30),
        }
        fields.update(overrides)
        customer = overrides.pop("customer", None)
        return filespace_factory(name=name, customer=customer, **fields)

    return make


def test_a_provisioned_filespace_becomes_ready_and_the_customer_is_emailed(
    fake_client, polled, django_capture_on_commit_callbacks
):
    filespace = polled(status="provisioned")

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.poll_filespaces()

    filespace.refresh_from_db()
    assert result["checked"] == 1
    assert filespace.state == State.PROVISIONED
    assert filespace.provisioned_at is not None
    assert filespace.lease_until is None
    assert Order.objects.get(pk=filespace.order_id).state == Order.State.FULFILLED
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith("cust1-media.msp is ready to initialize")
    assert f"/filespaces/{filespace.pk}/" in mail.outbox[0].body  # the guide, not a root command
    assert "--password" not in mail.outbox[0].body
    assert [e.kind for e in filespace.events.all()] == [Kind.PROVISIONED, Kind.EMAIL]


def test_an_initialized_filespace_becomes_active(fake_client, polled):
    filespace = polled(status="initialized", state=State.PROVISIONED)

    tasks.poll_filespaces()

    filespace.refresh_from_db()
    assert filespace.state == State.ACTIVE
    assert filespace.active_at is not None
    assert filespace.next_poll_at is None


def test_a_filespace_still_provisioning_is_checked_again_later_each_time_further_apart(
    fake_client, polled
):
    filespace = polled()
    gaps = []
    for _ in range(3):
        before = timezone.now()
        tasks.poll_filespaces()
        filespace.refresh_from_db()
        gaps.append((filespace.next_poll_at - before).total_seconds())
        Filespace.objects.filter(pk=filespace.pk).update(next_poll_at=timezone.now())

    assert filespace.state == State.PROVISIONING
    assert gaps[0] < gaps[1] < gaps[2]


def test_a_row_that_is_not_due_is_not_checked(fake_client, polled):
    polled(next_poll_at=timezone.now() + timedelta(minutes=1))

    assert tasks.poll_filespaces()["checked"] == 0
    assert fake_client.calls["get_filespace"] == 0


def test_a_row_leased_by_another_sweep_is_skipped(fake_client, polled):
    polled(lease_until=timezone.now() + timedelta(minutes=1))

    assert tasks.poll_filespaces()["checked"] == 0


def test_a_filespace_past_its_deadline_is_marked_error(fake_client, polled, settings):
    settings.PROVISIONING_DEADLINE = 1800
    filespace = polled(poll_deadline=timezone.now() - timedelta(seconds=1))

    tasks.poll_filespaces()

    filespace.refresh_from_db()
    assert filespace.state == State.ERROR
    assert "within 30 minutes" in filespace.last_error
    assert Order.objects.get(pk=filespace.order_id).state == Order.State.FAILED


def test_a_remote_error_marks_the_filespace_error(fake_client, polled):
    filespace = polled(status="error")

    tasks.poll_filespaces()

    filespace.refresh_from_db()
    assert filespace.state == State.ERROR
    assert "could not set up the filespace's storage" in filespace.last_error


def test_a_filespace_gone_at_lucidlink_is_marked_error(fake_client, polled):
    filespace = polled()
    fake_client.filespaces.clear()

    tasks.poll_filespaces()

    filespace.refresh_from_db()
    assert filespace.state == State.ERROR
    assert "no longer exists" in filespace.last_error


def test_throttling_stops_the_sweep_and_waits_for_retry_after(fake_client, polled):
    first, second = polled("one"), polled("two")
    fake_client.fail("get_filespace", lucidlink.Unavailable("429", retry_after=60, status=429))

    result = tasks.poll_filespaces()

    assert result["stopped"] == "429"
    assert fake_client.calls["get_filespace"] == 1
    for filespace in (first, second):
        filespace.refresh_from_db()
        assert filespace.state == State.PROVISIONING
        assert filespace.lease_until is None
        assert filespace.next_poll_at >= timezone.now() + timedelta(seconds=59)


def test_a_short_retry_after_is_waited_out_and_the_sweep_carries_on(
    fake_client, polled, monkeypatch
):
    slept: list[float] = []
    monkeypatch.setattr("provisioning.services.status._sleep", slept.append)
    rows = [polled(f"fs{i}", status="provisioned") for i in range(3)]
    fake_client.fail("get_filespace", lucidlink.Unavailable("429", retry_after=3, status=429))

    result = tasks.poll_filespaces()

    assert result == {"checked": 3, "changed": 3, "stopped": ""}
    assert len(slept) == 1 and 2.9 <= slept[0] <= 3  # the Retry-After, once, then on
    assert fake_client.calls["get_filespace"] == 4  # the throttled row was asked again
    assert {Filespace.objects.get(pk=row.pk).state for row in rows} == {State.PROVISIONED}


def test_a_pause_set_by_one_sweep_keeps_every_other_sweep_from_calling(fake_client, polled):
    from provisioning.services import pause

    row = polled()
    pause.api_pause(60)

    result = tasks.poll_filespaces()

    assert fake_client.calls == {}
    assert "wait" in result["stopped"]
    row.refresh_from_db()
    assert row.lease_until is None  # nothing was claimed, so nothing waits on a lease


def test_a_stopped_sweep_hands_its_rows_back_with_one_update_per_state(fake_client, polled):
    rows = [polled(f"fs{i}") for i in range(4)] + [polled("ready", status="provisioned")]
    Filespace.objects.filter(pk=rows[-1].pk).update(state=State.PROVISIONED)
    # A pause longer than the sweep's budget: it hands every claimed row back at once.
    fake_client.fail("get_filespace", lucidlink.Unavailable("503", retry_after=60, status=503))

    with CaptureQueriesContext(connection) as queries:
        result = tasks.poll_filespaces()

    assert result["stopped"] == "503"
    handbacks = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and '"lease_until" = NULL' in q["sql"]
    ]
    assert len(handbacks) == 2
    for filespace in rows:
        filespace.refresh_from_db()
        assert filespace.state in Filespace.POLLED_STATES
        assert filespace.lease_until is None
        assert filespace.next_poll_at > timezone.now()


def test_many_due_rows_are_checked_in_batches(fake_client, polled, settings):
    settings.PROVISIONING_POLL_BATCH = 2
    rows = [polled(f"fs{i}", status="provisioned") for i in range(5)]

    result = tasks.poll_filespaces()

    assert result["checked"] == 5
    assert {Filespace.objects.get(pk=r.pk).state for r in rows} == {State.PROVISIONED}


def test_a_large_batch_is_answered_by_one_list_call(fake_client, polled, settings):
    settings.PROVISIONING_LIST_THRESHOLD = 3
    rows = [polled(f"fs{i}", status="provisioned") for i in range(4)]
    gone = polled("gone")
    del fake_client.filespaces[gone.remote_id]

    result = tasks.poll_filespaces()

    assert result["checked"] == 5
    assert fake_client.calls["list_filespaces"] == 1
    assert fake_client.calls["get_filespace"] == 1  # only to confirm the missing one is gone
    assert {Filespace.objects.get(pk=r.pk).state for r in rows} == {State.PROVISIONED}
    assert Filespace.objects.get(pk=gone.pk).state == State.ERROR


def test_the_reconciler_resends_lost_creates_and_deletes(
    fake_client, filespace_factory, no_enqueue, settings
):
    settings.PROVISIONING_RECONCILE_GRACE = 60
    now = timezone.now()
    lost = filespace_factory(name="lost", next_poll_at=now - timedelta(minutes=5))
    fresh = filespace_factory(name="fresh", next_poll_at=now)
    crashed = filespace_factory(
        name="crashed", state=State.CREATING, lease_until=now - timedelta(seconds=1)
    )
    working = filespace_factory(
        name="working", state=State.CREATING, lease_until=now + timedelta(minutes=1)
    )
    deleting = filespace_factory(
        name="deleting",
        state=State.DELETING,
        remote_id="fs-7",
        next_poll_at=now - timedelta(hours=1),
    )

    result = tasks.reconcile_filespaces()

    assert result == {"creates": 2, "deletes": 1}
    sent = sorted(no_enqueue)
    assert sent == sorted(
        [
            ("provisioning.tasks.create_filespace", (lost.pk,)),
            ("provisioning.tasks.create_filespace", (crashed.pk,)),
            ("provisioning.tasks.delete_filespace", (deleting.pk,)),
        ]
    )
    assert fresh.pk not in {args[0] for _, args in sent}
    assert working.pk not in {args[0] for _, args in sent}


def test_a_reconciled_create_of_a_crashed_row_completes(fake_client, filespace_factory):
    crashed = filespace_factory(
        name="crashed", state=State.CREATING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    pending = services.filespaces_needing_a_push()

    for filespace_id in pending.creates:
        tasks.create_filespace(filespace_id)

    crashed.refresh_from_db()
    assert crashed.state == State.PROVISIONING
    assert fake_client.calls["create_filespace"] == 1


def test_a_backlog_starts_a_helper_sweep_and_hands_over_when_out_of_time(
    fake_client, polled, settings
):
    from provisioning import services

    settings.PROVISIONING_POLL_BATCH = 2
    for i in range(5):
        polled(f"fs{i}")
    helpers = []

    first = services.filespaces_poll_due(
        client=fake_client, budget=0, fan_out=lambda: helpers.append(1)
    )
    assert first.checked == 2
    assert len(helpers) == 2  # one for the full batch, one for the rows left when out of time

    helpers.clear()
    rest = services.filespaces_poll_due(client=fake_client, fan_out=lambda: helpers.append(1))
    assert rest.checked == 3
    assert len(helpers) == 1  # the first full batch; the last one was short: nothing left


def test_a_provisioned_row_is_checked_only_at_the_slow_ready_cadence(fake_client, polled, settings):
    settings.PROVISIONING_READY_POLL_INTERVAL = 900
    row = polled(status="provisioned")

    tasks.poll_filespaces()
    row.refresh_from_db()
    assert row.state == State.PROVISIONED
    assert row.next_poll_at >= timezone.now() + timedelta(seconds=890)

    tasks.poll_filespaces()  # not due again: LucidLink is not asked
    assert fake_client.calls["get_filespace"] == 1
