"""Creates in batches (provisioning/services/batch.py) and batched status transitions."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.actions.models import OutboxEvent
from portal.orders.models import Order
from provisioning import lucidlink, tasks
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import batch

# Both the batch's sweep keys and the shared LucidLink pause live in the cache.
pytestmark = pytest.mark.usefixtures("fresh_cache")

State = Filespace.State
Kind = ProvisioningEvent.Kind


def requested_rows(filespace_factory, count: int, prefix: str = "b") -> list[Filespace]:
    due = timezone.now() - timedelta(seconds=1)
    return [filespace_factory(name=f"{prefix}{i}", next_poll_at=due) for i in range(count)]


def kinds(filespace) -> list[str]:
    return list(filespace.events.order_by("at", "id").values_list("kind", flat=True))


def test_one_create_task_creates_every_never_tried_row_once(fake_client, filespace_factory, sent):
    rows = requested_rows(filespace_factory, 5)

    tasks.create_filespace(rows[2].pk)

    assert fake_client.calls["create_filespace"] == 5
    assert fake_client.calls["find_filespace"] == 0  # first attempts: nothing to look up
    remote_ids = set()
    for row in rows:
        row.refresh_from_db()
        assert row.state == State.PROVISIONING
        assert row.attempts == 1
        assert row.create_sent_at is not None
        assert fake_client.filespaces[row.remote_id].name == row.remote_name
        assert kinds(row) == [Kind.CREATE_SENT, Kind.CREATED]
        remote_ids.add(row.remote_id)
    assert len(remote_ids) == 5
    # The other rows' own messages then find nothing to do.
    for row in rows:
        tasks.create_filespace(row.pk)
    assert fake_client.calls["create_filespace"] == 5
    # One sweep, when the first check is due.
    assert [(name, countdown) for name, _, countdown in sent] == [
        (tasks.poll_filespaces.name, pytest.approx(5.5))
    ]


def test_the_statements_of_a_batch_do_not_grow_with_its_size(fake_client, filespace_factory, sent):
    def statements(count: int) -> int:
        rows = requested_rows(filespace_factory, count, prefix=f"n{count}-")
        with CaptureQueriesContext(connection) as queries:
            tasks.create_filespace(rows[0].pk)
        moved = Filespace.objects.filter(pk__in=[r.pk for r in rows], state=State.PROVISIONING)
        assert moved.count() == count
        return len(queries.captured_queries)

    assert statements(2) == statements(12)


def test_a_batch_takes_at_most_the_configured_number_of_rows(
    fake_client, filespace_factory, sent, settings
):
    settings.PROVISIONING_CREATE_BATCH = 3
    rows = requested_rows(filespace_factory, 5)

    tasks.create_filespace(rows[4].pk)

    states = {row.pk: Filespace.objects.get(pk=row.pk).state for row in rows}
    assert states[rows[4].pk] == State.PROVISIONING  # its own row first
    assert list(states.values()).count(State.PROVISIONING) == 3
    assert list(states.values()).count(State.REQUESTED) == 2


def test_rows_waiting_for_a_backoff_or_retried_are_not_taken_along(
    fake_client, filespace_factory, sent
):
    first, later, retried = requested_rows(filespace_factory, 3)
    Filespace.objects.filter(pk=later.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    # A staff retry resets attempts but keeps create_sent_at: it needs the look-up first.
    Filespace.objects.filter(pk=retried.pk).update(create_sent_at=timezone.now())

    tasks.create_filespace(first.pk)

    assert Filespace.objects.get(pk=first.pk).state == State.PROVISIONING
    assert Filespace.objects.get(pk=later.pk).state == State.REQUESTED
    assert Filespace.objects.get(pk=retried.pk).state == State.REQUESTED
    assert fake_client.calls["create_filespace"] == 1


def fail_create_number(fake_client, monkeypatch, number: int, exc: Exception) -> None:
    original = fake_client.create_filespace
    seen = {"n": 0}

    def create(**kwargs):
        seen["n"] += 1
        if seen["n"] == number:
            fake_client.calls["create_filespace"] += 1
            raise exc
        return original(**kwargs)

    monkeypatch.setattr(fake_client, "create_filespace", create)


def test_a_429_stops_the_batch_and_hands_the_unsent_rows_back_untouched(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = requested_rows(filespace_factory, 5)
    throttled = lucidlink.Unavailable("Too many requests", retry_after=30, status=429)
    fail_create_number(fake_client, monkeypatch, 3, throttled)

    tasks.create_filespace(rows[0].pk)

    assert fake_client.calls["create_filespace"] == 3  # nothing after the 429
    done, failed, unsent = rows[:2], rows[2], rows[3:]
    for row in done:
        assert Filespace.objects.get(pk=row.pk).state == State.PROVISIONING
    failed.refresh_from_db()
    # Its POST may have reached LucidLink: a retry that looks the name up first.
    assert failed.state == State.REQUESTED
    assert failed.attempts == 1
    assert failed.create_sent_at is not None
    assert failed.next_poll_at >= timezone.now() + timedelta(seconds=29)
    assert kinds(failed) == [Kind.CREATE_SENT, Kind.RETRY]
    for row in unsent:
        row.refresh_from_db()
        assert row.state == State.REQUESTED
        assert row.attempts == 0
        assert row.create_sent_at is None
        assert row.lease_until is None
        assert row.next_poll_at >= timezone.now() + timedelta(seconds=29)
        assert kinds(row) == [Kind.RETRY]  # no POST was sent: no `create_sent` entry stays
    resent = {
        args[0]: countdown for name, args, countdown in sent if name.endswith("create_filespace")
    }
    assert set(resent) == {failed.pk, *(row.pk for row in unsent)}
    assert all(countdown >= 30 for countdown in resent.values())


def test_a_409_fails_only_its_own_row(fake_client, filespace_factory, sent):
    rows = requested_rows(filespace_factory, 3)
    fake_client.add(rows[1].remote_name)  # made outside the portal before the order

    tasks.create_filespace(rows[0].pk)

    assert Filespace.objects.get(pk=rows[0].pk).state == State.PROVISIONING
    assert Filespace.objects.get(pk=rows[2].pk).state == State.PROVISIONING
    taken = Filespace.objects.get(pk=rows[1].pk)
    assert taken.state == State.ERROR
    assert "did not create" in taken.last_error
    assert Order.objects.get(pk=taken.order_id).state == Order.State.FAILED


def test_an_answer_without_an_id_is_looked_up_by_name(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = requested_rows(filespace_factory, 2)
    original = fake_client.create_filespace

    def create(**kwargs):
        remote = original(**kwargs)
        return lucidlink.RemoteFilespace(**{**remote.__dict__, "id": None})

    monkeypatch.setattr(fake_client, "create_filespace", create)

    tasks.create_filespace(rows[0].pk)

    for row in rows:
        row.refresh_from_db()
        assert row.state == State.PROVISIONING
        assert row.remote_id in fake_client.filespaces
    assert fake_client.calls["find_filespace"] == 2


def test_a_row_taken_over_before_the_intent_is_not_sent(fake_client, filespace_factory, sent):
    first, second = requested_rows(filespace_factory, 2)
    claimed = batch.filespaces_claim_fresh_creates(limit=2)
    # Another attempt took `second` over after its lease ran out.
    Filespace.objects.filter(pk=second.pk).update(attempts=2)

    batch.filespaces_create_batch(filespaces=claimed, client=fake_client)

    assert fake_client.calls["create_filespace"] == 1
    assert Filespace.objects.get(pk=first.pk).state == State.PROVISIONING
    assert Filespace.objects.get(pk=second.pk).create_sent_at is None


def test_one_sweep_is_scheduled_per_second_of_due_time(sent):
    assert batch.filespaces_schedule_sweep(delay=5) is True
    assert batch.filespaces_schedule_sweep(delay=5) is False
    assert len(sent) == 1


# --- The status sweep's batched transitions ---------------------------------------------------


@pytest.fixture
def provisioning_rows(fake_client, filespace_factory):
    def make(count: int, status: str = "provisioned", prefix: str = "p") -> list[Filespace]:
        rows = []
        for i in range(count):
            remote = fake_client.add(f"cust1-{prefix}{i}", status=status)
            rows.append(
                filespace_factory(
                    name=f"{prefix}{i}",
                    state=State.PROVISIONING,
                    remote_id=remote.id,
                    domain_name="msp",
                    next_poll_at=timezone.now() - timedelta(seconds=1),
                    poll_deadline=timezone.now() + timedelta(minutes=30),
                )
            )
        return rows

    return make


def test_a_sweep_moves_every_ready_row_with_its_order_event_webhook_and_email(
    fake_client, provisioning_rows, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("portal.actions.outbox._enqueue_relay", lambda: None)
    rows = provisioning_rows(12)

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.poll_filespaces()

    assert result == {"checked": 12, "changed": 12, "stopped": ""}
    assert fake_client.calls["list_filespaces"] == 1
    for row in rows:
        row.refresh_from_db()
        assert row.state == State.PROVISIONED
        assert row.provisioned_at is not None
        assert row.lease_until is None
        assert Order.objects.get(pk=row.order_id).state == Order.State.FULFILLED
        assert kinds(row) == [Kind.PROVISIONED, Kind.EMAIL]
        outbox = OutboxEvent.objects.get(dedupe_key=f"filespace.provisioned:{row.pk}")
        assert outbox.facts == {"timeline_event_id": row.events.get(kind=Kind.PROVISIONED).pk}
        assert outbox.customer_id == row.customer_id
    assert len(mail.outbox) == 12


def test_a_sweep_counts_each_ready_row_in_the_time_to_ready_metric(
    fake_client, provisioning_rows, django_capture_on_commit_callbacks, monkeypatch
):
    """The batched events are inserted without signals; the metric must still see each one."""
    from prometheus_client import REGISTRY

    monkeypatch.setattr("portal.actions.outbox._enqueue_relay", lambda: None)

    def ready_count() -> float:
        return REGISTRY.get_sample_value("portal_filespace_order_to_ready_seconds_count") or 0

    before = ready_count()
    provisioning_rows(7)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_filespaces()

    assert ready_count() == before + 7


def test_the_sweeps_statements_do_not_grow_with_the_rows_that_became_ready(
    fake_client, provisioning_rows, monkeypatch
):
    monkeypatch.setattr("portal.actions.outbox._enqueue_relay", lambda: None)
    monkeypatch.setattr("provisioning.emails.send_many_on_commit", lambda **_: None)

    def statements(count: int, status: str) -> int:
        provisioning_rows(count, status=status, prefix=f"{status[:6]}{count}-")
        with CaptureQueriesContext(connection) as queries:
            result = tasks.poll_filespaces()
        assert result["checked"] == count  # the rows of earlier rounds are not due any more
        return len(queries.captured_queries)

    assert statements(10, "provisioned") == statements(30, "provisioned")
    assert statements(10, "provisioning") == statements(30, "provisioning")


def test_a_row_still_provisioning_is_checked_again_later(fake_client, provisioning_rows):
    rows = provisioning_rows(10, status="provisioning")

    tasks.poll_filespaces()

    for row in rows:
        row.refresh_from_db()
        assert row.state == State.PROVISIONING
        assert row.polls == 1
        assert row.lease_until is None
        assert row.next_poll_at > timezone.now() + timedelta(seconds=9)


def test_the_batch_claim_writes_times_the_orm_reads_back_equal(filespace_factory, settings):
    """The claim is raw SQL: its times must be stored as the ORM stores them (SQLite: text)."""
    import time_machine

    with time_machine.travel("2026-03-10T12:00:00.250000Z", tick=False):
        row = filespace_factory(next_poll_at=timezone.now())
        [claimed] = batch.filespaces_claim_fresh_creates(limit=5)
        expected = timezone.now() + timedelta(seconds=settings.PROVISIONING_LEASE)

        assert claimed.pk == row.pk
        assert claimed.lease_until == expected
        assert Filespace.objects.filter(lease_until=expected, updated_at=timezone.now()).exists()
