"""The steps of a batched create one by one (provisioning/services/batch.py).

Each test names what a wrong step would do: create twice, lose or hand back the wrong row, keep
a lease, record the wrong remote id or timeline. Found by `make mutate` (claims target).
"""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from provisioning import lucidlink, tasks
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import batch

# Both the batch's sweep keys and the shared LucidLink pause live in the cache.
pytestmark = pytest.mark.usefixtures("fresh_cache")

State = Filespace.State
Kind = ProvisioningEvent.Kind


def claimed(filespace_factory, count: int, prefix: str = "s") -> list[Filespace]:
    due = timezone.now() - timedelta(seconds=1)
    for i in range(count):
        filespace_factory(name=f"{prefix}{i}", next_poll_at=due)
    return batch.filespaces_claim_fresh_creates(limit=count)


def before_create(fake_client, monkeypatch, hooks: dict) -> None:
    """Run hooks[n]() right before the n-th POST (1-based), as if another worker acted then."""
    original = fake_client.create_filespace
    seen = {"n": 0}

    def create(**kwargs):
        seen["n"] += 1
        hook = hooks.get(seen["n"])
        if hook is not None:
            return hook(original, kwargs)
        return original(**kwargs)

    monkeypatch.setattr(fake_client, "create_filespace", create)


def raising(exc):
    def hook(original, kwargs):
        return (_ for _ in ()).throw(exc)

    return hook


def kinds(pk: int) -> list[str]:
    return list(
        ProvisioningEvent.objects.filter(filespace_id=pk)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


# --- the intents --------------------------------------------------------------------------------


def test_the_intent_is_on_the_row_with_the_domain_before_its_post(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = claimed(filespace_factory, 2)
    seen = {}

    def look(original, kwargs):
        seen.update(
            Filespace.objects.filter(pk=rows[0].pk).values(
                "domain_id", "domain_name", "create_sent_at", "updated_at"
            )[0]
        )
        return original(**kwargs)

    before_create(fake_client, monkeypatch, {1: look})

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert seen["domain_id"] == fake_client.domain.id
    assert seen["domain_name"] == fake_client.domain.name
    assert seen["create_sent_at"] is not None
    assert seen["updated_at"] == seen["create_sent_at"]
    event = ProvisioningEvent.objects.get(filespace_id=rows[0].pk, kind=Kind.CREATE_SENT)
    assert event.at == seen["create_sent_at"]
    assert event.message == (
        f"Attempt 1: asking LucidLink to create {rows[0].remote_name}.{fake_client.domain.name}."
    )


def test_rows_this_attempt_no_longer_holds_get_no_intent_and_no_post(
    fake_client, filespace_factory, sent
):
    mine, expired, failed, sent_before = claimed(filespace_factory, 4)
    other = claimed(filespace_factory, 1, prefix="other")[0]  # another batch's claim
    past = timezone.now() - timedelta(seconds=1)
    earlier = timezone.now() - timedelta(minutes=5)
    Filespace.objects.filter(pk=expired.pk).update(lease_until=past)
    Filespace.objects.filter(pk=failed.pk).update(state=State.ERROR)
    Filespace.objects.filter(pk=sent_before.pk).update(create_sent_at=earlier)

    batch.filespaces_create_batch(
        filespaces=[mine, expired, failed, sent_before], client=fake_client
    )

    assert fake_client.calls["create_filespace"] == 1
    assert Filespace.objects.get(pk=mine.pk).state == State.PROVISIONING
    assert Filespace.objects.get(pk=expired.pk).create_sent_at is None
    assert Filespace.objects.get(pk=failed.pk).create_sent_at is None
    assert Filespace.objects.get(pk=sent_before.pk).create_sent_at == earlier
    assert Filespace.objects.get(pk=other.pk).create_sent_at is None
    assert Filespace.objects.get(pk=other.pk).state == State.CREATING


# --- recording the created rows -----------------------------------------------------------------


def test_each_created_row_gets_its_own_remote_id_status_and_created_entry(
    fake_client, filespace_factory, sent
):
    rows = claimed(filespace_factory, 3)
    bystander = claimed(filespace_factory, 1, prefix="other")[0]  # another batch's claim

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    for row in rows:
        row.refresh_from_db()
        remote = fake_client.filespaces[row.remote_id]
        assert remote.name == row.remote_name
        assert row.remote_status == "provisioning"
        created = ProvisioningEvent.objects.get(filespace_id=row.pk, kind=Kind.CREATED)
        assert (
            created.message == f"LucidLink created filespace {row.remote_id}; it is being set up."
        )
        assert created.api_status == 201
        assert created.api_answer == "status=provisioning"
        assert created.at == row.created_remote_at
    assert Filespace.objects.get(pk=bystander.pk).state == State.CREATING
    assert Filespace.objects.get(pk=bystander.pk).remote_id in ("", None)


def test_a_row_recorded_by_another_attempt_during_the_post_is_left_as_it_is(
    fake_client, filespace_factory, sent, monkeypatch, caplog
):
    rows = claimed(filespace_factory, 2)
    earlier = timezone.now() - timedelta(seconds=3)

    def taken_over(original, kwargs):
        remote = original(**kwargs)
        Filespace.objects.filter(pk=rows[1].pk).update(
            state=State.PROVISIONING, remote_id="theirs", created_remote_at=earlier
        )
        return remote

    before_create(fake_client, monkeypatch, {2: taken_over})

    with caplog.at_level(logging.WARNING, logger="provisioning.services"):
        batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    row = Filespace.objects.get(pk=rows[1].pk)
    assert (row.remote_id, row.created_remote_at) == ("theirs", earlier)
    assert kinds(row.pk) == [Kind.CREATE_SENT]
    assert [r.getMessage() for r in caplog.records] == [
        f"Filespace {row.pk} left `creating` while its create ran."
    ]


def test_recording_no_created_rows_moves_none():
    assert batch._record_created_many([]) == 0


# --- a 429 / 5xx stops the batch ----------------------------------------------------------------


def test_the_unsent_rows_are_handed_back_without_a_create_sent_entry(
    fake_client, filespace_factory, sent, monkeypatch
):
    """Their `create_sent` entry was written before the POSTs; none was sent, so it goes."""
    rows = claimed(filespace_factory, 4)
    throttled = lucidlink.Unavailable("Too many requests", retry_after=30, status=429)
    before_create(fake_client, monkeypatch, {2: raising(throttled)})

    result = batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert kinds(rows[0].pk) == [Kind.CREATE_SENT, Kind.CREATED]
    assert kinds(rows[1].pk) == [Kind.CREATE_SENT, Kind.RETRY]  # its POST may have arrived
    for row in rows[2:]:
        row.refresh_from_db()
        assert kinds(row.pk) == [Kind.RETRY]
        retry = row.events.get()
        assert (
            retry.message == "Not sent: LucidLink asked the portal to wait; next attempt in 30.0 s."
        )
        assert retry.at == row.updated_at
        assert row.last_error == "LucidLink is unavailable (Too many requests); retrying."
        assert row.next_poll_at == row.updated_at + timedelta(seconds=30)
    failed = Filespace.objects.get(pk=rows[1].pk)
    countdown = (failed.next_poll_at - failed.updated_at).total_seconds()
    assert result["retry"] == [
        (rows[1].pk, pytest.approx(countdown + 0.5, abs=1e-3)),
        (rows[2].pk, 30.5),
        (rows[3].pk, 30.5),
    ]


def test_only_rows_still_held_by_this_attempt_are_handed_back(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = claimed(filespace_factory, 5)
    later = timezone.now() + timedelta(hours=1)

    def meanwhile(original, kwargs):
        # During the first POST: staff failed row 2, another attempt took row 3 over, and row
        # 4 was taken over and released again by that attempt.
        Filespace.objects.filter(pk=rows[2].pk).update(state=State.ERROR)
        Filespace.objects.filter(pk=rows[3].pk).update(attempts=2)
        Filespace.objects.filter(pk=rows[4].pk).update(
            state=State.REQUESTED, attempts=2, next_poll_at=later
        )
        raise lucidlink.Unavailable("Service unavailable", retry_after=20, status=503)

    before_create(fake_client, monkeypatch, {1: meanwhile})

    result = batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert Filespace.objects.get(pk=rows[1].pk).state == State.REQUESTED
    assert Filespace.objects.get(pk=rows[2].pk).state == State.ERROR
    assert Filespace.objects.get(pk=rows[3].pk).state == State.CREATING
    assert Filespace.objects.get(pk=rows[4].pk).next_poll_at == later
    for row in rows[2:]:
        assert Kind.RETRY not in kinds(row.pk)
    assert [pk for pk, _ in result["retry"]] == [rows[0].pk, rows[1].pk]


def test_a_5xx_without_retry_after_hands_back_after_the_first_backoff(
    fake_client, filespace_factory, sent, monkeypatch, settings
):
    settings.PROVISIONING_RETRY_BASE = 10
    monkeypatch.setattr("provisioning.services.common.random.uniform", lambda a, b: b)
    rows = claimed(filespace_factory, 2)
    down = lucidlink.Unavailable("Bad gateway", status=502)
    before_create(fake_client, monkeypatch, {1: raising(down)})

    result = batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert result["retry"][1] == (rows[1].pk, 10.5)  # retry_delay(1): the base, no jitter


# --- refusals -----------------------------------------------------------------------------------


def test_a_refused_row_fails_with_the_apis_words_and_the_batch_goes_on(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = claimed(filespace_factory, 3)
    refused = lucidlink.Rejected("Owner does not exist.", status=400)
    before_create(fake_client, monkeypatch, {2: raising(refused)})

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert Filespace.objects.get(pk=rows[2].pk).state == State.PROVISIONING
    row = Filespace.objects.get(pk=rows[1].pk)
    assert row.state == State.ERROR
    assert row.last_error == (
        "LucidLink refused to create the filespace: Owner does not exist. Check the order "
        "details and order again, or contact support."
    )
    failed = row.events.get(kind=Kind.FAILED)
    assert (failed.api_status, failed.api_answer) == (400, "Owner does not exist.")


def test_a_name_taken_before_the_first_post_fails_with_that_reason_and_the_409(
    fake_client, filespace_factory, sent
):
    rows = claimed(filespace_factory, 2)
    fake_client.add(rows[0].remote_name)

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    row = Filespace.objects.get(pk=rows[0].pk)
    assert row.state == State.ERROR
    assert "it existed before this order asked LucidLink for anything" in row.last_error
    failed = row.events.get(kind=Kind.FAILED)
    assert (failed.api_status, failed.api_answer) == (409, "Filespace name already exists.")


@pytest.mark.parametrize("error", ["conflict", "rejected"])
def test_a_refusal_never_fails_a_row_that_already_left_creating(
    fake_client, filespace_factory, sent, monkeypatch, error
):
    rows = claimed(filespace_factory, 1)
    exc = (
        lucidlink.Conflict("Filespace name already exists.", status=409)
        if error == "conflict"
        else lucidlink.Rejected("Bad request.", status=400)
    )

    def recorded_meanwhile(original, kwargs):
        Filespace.objects.filter(pk=rows[0].pk).update(state=State.PROVISIONING)
        raise exc

    before_create(fake_client, monkeypatch, {1: recorded_meanwhile})

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert Filespace.objects.get(pk=rows[0].pk).state == State.PROVISIONING
    assert Kind.FAILED not in kinds(rows[0].pk)


# --- odd answers --------------------------------------------------------------------------------


def test_an_answer_without_an_id_whose_lookup_fails_is_retried(
    fake_client, filespace_factory, sent, monkeypatch
):
    rows = claimed(filespace_factory, 2)

    def no_id(original, kwargs):
        remote = original(**kwargs)
        return lucidlink.RemoteFilespace(**{**remote.__dict__, "id": None})

    before_create(fake_client, monkeypatch, {1: no_id})
    fake_client.fail("find_filespace", lucidlink.Unavailable("timeout"))

    result = batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    row = Filespace.objects.get(pk=rows[0].pk)
    assert row.state == State.REQUESTED
    assert row.last_error == "LucidLink is unavailable (timeout); retrying."
    countdown = (row.next_poll_at - row.updated_at).total_seconds()
    assert result["retry"] == [(row.pk, pytest.approx(countdown + 0.5, abs=1e-3))]
    assert Filespace.objects.get(pk=rows[1].pk).state == State.PROVISIONING


def test_an_answer_already_past_provisioning_is_recorded_as_created_not_adopted(
    fake_client, filespace_factory, sent
):
    rows = claimed(filespace_factory, 1)
    fake_client.create_status = "provisioned"

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert Kind.ADOPTED not in kinds(rows[0].pk)
    assert Kind.CREATED in kinds(rows[0].pk)


# --- leases and the sweep -----------------------------------------------------------------------


def test_the_batch_keeps_the_leases_of_all_its_rows(
    fake_client, filespace_factory, sent, monkeypatch
):
    import contextlib

    kept = []

    @contextlib.contextmanager
    def leases_kept(*, ids):
        kept.append(ids)
        yield

    monkeypatch.setattr("provisioning.services.lease.leases_kept", leases_kept)
    rows = claimed(filespace_factory, 3)

    batch.filespaces_create_batch(filespaces=rows, client=fake_client)

    assert kept == [[row.pk for row in rows]]


def test_renewing_extends_only_the_leases_this_batch_still_holds(filespace_factory, settings):
    rows = claimed(filespace_factory, 4)
    other = claimed(filespace_factory, 1, prefix="other")[0]
    old = timezone.now() + timedelta(seconds=1)
    Filespace.objects.filter(pk__in=[r.pk for r in rows] + [other.pk]).update(lease_until=old)
    Filespace.objects.filter(pk=rows[1].pk).update(state=State.PROVISIONING)
    Filespace.objects.filter(pk=rows[2].pk).update(attempts=2)  # taken over
    Filespace.objects.filter(pk=rows[3].pk).update(lease_until=None)  # released

    with time_machine.travel(timezone.now(), tick=False):
        renewed = batch.filespaces_renew_leases(ids=[r.pk for r in rows])
        expected = timezone.now() + timedelta(seconds=settings.PROVISIONING_LEASE)

    assert renewed == 1
    leases = dict(Filespace.objects.values_list("pk", "lease_until"))
    assert leases[rows[0].pk] == expected
    assert leases[rows[1].pk] == old
    assert leases[rows[2].pk] == old
    assert leases[rows[3].pk] is None
    assert leases[other.pk] == old


def test_the_sweep_key_is_the_second_it_is_due_and_expires_a_minute_after(sent, monkeypatch):
    # The timeout is asserted as asked of the cache, not by waiting: Redis (CI's cache) expires
    # keys on its own clock, which a pinned clock does not move.
    added = []
    real_add = cache.add

    def recording_add(key, value, timeout=None, **kwargs):
        added.append((key, timeout))
        return real_add(key, value, timeout=timeout, **kwargs)

    start = timezone.now()
    key = f"provisioning:sweep-at:{int((start + timedelta(seconds=5)).timestamp())}"
    cache.delete(key)  # a shared cache may hold it from another test at the same pinned instant
    monkeypatch.setattr(cache, "add", recording_add)
    with time_machine.travel(start, tick=False):
        assert batch.filespaces_schedule_sweep(delay=5) is True
        assert batch.filespaces_schedule_sweep(delay=5) is False  # the same second: one sweep

    assert added == [(key, 65), (key, 65)]
    assert sent == [(tasks.poll_filespaces.name, (), 5)]


def test_a_sweep_that_cannot_be_sent_is_logged_and_left_to_beat(monkeypatch, caplog):
    def broken(**_):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.poll_filespaces, "apply_async", broken)

    with caplog.at_level(logging.WARNING, logger="provisioning.services"):
        assert batch.filespaces_schedule_sweep(delay=5) is False

    [record] = caplog.records
    assert record.getMessage() == "Could not schedule a status sweep; beat's sweep will check."
    assert record.exc_info is not None
