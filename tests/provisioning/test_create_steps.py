"""The create step's own rules (provisioning.services.create), one service call at a time: which
row the claim, the intent, the record and the release move (and that no other row moves), what
a filespace found at LucidLink must prove before it is adopted, and what the customer and the
timeline are told. tests/provisioning/test_create_task.py runs the same rules through the task."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from provisioning import lucidlink, services, tasks
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import create as create_step
from tests.provisioning.fakes import DOMAIN

pytestmark = pytest.mark.django_db
State = Filespace.State
Kind = ProvisioningEvent.Kind
NOW = "2026-06-10T12:00:00Z"
LATER = "2026-06-10T12:00:05Z"  # LucidLink answers 5 s after the claim


@pytest.fixture
def requested(filespace_factory, time_machine):
    """A `requested` row due now, last changed an hour ago (a retried row: a note and polls)."""
    time_machine.move_to(NOW, tick=False)

    def make(name: str, **fields) -> Filespace:
        filespace = filespace_factory(name=name, **fields)
        Filespace.objects.filter(pk=filespace.pk).update(
            next_poll_at=timezone.now(),
            polls=3,
            last_error="LucidLink is unavailable (503); retrying.",
            updated_at=timezone.now() - timedelta(hours=1),
        )
        filespace.refresh_from_db()
        return filespace

    return make


def timeline(filespace) -> list[tuple]:
    return list(
        filespace.events.order_by("at", "id").values_list(
            "kind", "message", "api_status", "api_answer"
        )
    )


def claim(filespace) -> Filespace:
    claimed = services.filespace_claim_for_create(filespace_id=filespace.pk)
    assert claimed is not None
    return claimed


def not_ours(filespace, detail: str) -> str:
    return (
        f"The name {filespace.remote_name} is already used by another filespace at LucidLink "
        f"that this portal did not create ({detail}). Order again with a different name."
    )


def remote(name: str, **storage) -> lucidlink.RemoteFilespace:
    """A LucidLink answer for `name` in our domain with the factory's intent, or `storage`."""
    fields = {
        "owner": "lucidlink",
        "provider": "IBM",
        "region": "us-east",
        "endpoint": None,
        "bucket": None,
    }
    top = {key: storage.pop(key) for key in ("subscription_type", "version") if key in storage}
    fields.update(storage)
    return lucidlink.RemoteFilespace(
        id="fs-77",
        domain_id=DOMAIN.id,
        name=name,
        status="provisioning",
        subscription_type=top.get("subscription_type", "teams"),
        version=top.get("version", 3),
        users_count=0,
        storage=lucidlink.FilespaceStorage(**fields),
        stats=None,
    )


# --- The claim and the intent ----------------------------------------------------------------


def test_the_create_claim_takes_a_lease_on_that_row_and_stamps_it(requested):
    one, other = requested("one"), requested("other")

    claimed = claim(one)

    assert (claimed.state, claimed.attempts, claimed.lease_until, claimed.updated_at) == (
        State.CREATING,
        1,
        timezone.now() + timedelta(seconds=settings.PROVISIONING_LEASE),
        timezone.now(),
    )
    assert Filespace.objects.get(pk=other.pk).state == State.REQUESTED


def test_the_create_intent_is_written_on_this_attempts_row_only(requested, time_machine):
    one, other = requested("one"), requested("other")
    first, second = claim(one), claim(other)

    assert create_step.filespace_record_intent(filespace=first, domain=DOMAIN) is False

    one.refresh_from_db()
    other.refresh_from_db()
    assert (one.domain_id, one.domain_name, one.create_sent_at) == (
        DOMAIN.id,
        DOMAIN.name,
        timezone.now(),
    )
    assert (other.domain_id, other.create_sent_at) in {(None, None), ("", None)}
    # A later attempt of the same row keeps the first POST's moment and says one may be out.
    Filespace.objects.filter(pk=one.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    time_machine.move_to(LATER, tick=False)
    again = claim(one)
    assert create_step.filespace_record_intent(filespace=again, domain=DOMAIN) is True
    assert Filespace.objects.get(pk=one.pk).create_sent_at == one.create_sent_at
    assert second.create_sent_at is None


def test_an_attempt_whose_lease_ran_out_records_no_intent_and_sends_nothing(
    fake_client, requested, time_machine
):
    """A worker stalled past its lease (no keeper renewed it) must not POST, even before
    another attempt has taken the row over."""
    claimed = claim(requested("media"))
    time_machine.move_to(
        timezone.now() + timedelta(seconds=settings.PROVISIONING_LEASE + 1), tick=False
    )

    with pytest.raises(services.LeaseLost):
        services.filespace_ensure_remote(filespace=claimed, client=fake_client)

    assert fake_client.calls["create_filespace"] == 0
    assert Filespace.objects.get(pk=claimed.pk).create_sent_at is None


# --- Recording what LucidLink answered -------------------------------------------------------


def test_a_created_filespace_moves_only_its_row_to_provisioning_with_every_field_set(
    fake_client, requested, time_machine
):
    one, other = requested("one"), requested("other")
    first = claim(one)
    claim(other)  # another worker's create, still running
    time_machine.move_to(LATER, tick=False)

    outcome = services.filespace_ensure_remote(filespace=first, client=fake_client)

    one.refresh_from_db()
    assert (outcome.remote.id, outcome.adopted) == (one.remote_id, False)
    now = timezone.now()
    assert (one.state, one.remote_id, one.remote_status, one.domain_id, one.domain_name) == (
        State.PROVISIONING,
        "fs-1",
        "provisioning",
        DOMAIN.id,
        DOMAIN.name,
    )
    assert (one.created_remote_at, one.updated_at, one.lease_until) == (now, now, None)
    assert (one.next_poll_at, one.poll_deadline) == (
        now + timedelta(seconds=settings.PROVISIONING_FIRST_POLL_DELAY),
        now + timedelta(seconds=settings.PROVISIONING_DEADLINE),
    )
    assert (one.polls, one.last_error) == (0, "")
    assert timeline(one) == [
        (
            Kind.CREATE_SENT,
            f"Attempt 1: asking LucidLink to create {one.remote_name}.msp.",
            None,
            "",
        ),
        (
            Kind.CREATED,
            "LucidLink created filespace fs-1; it is being set up.",
            201,
            "status=provisioning",
        ),
    ]
    other.refresh_from_db()
    assert (other.state, other.remote_id) == (State.CREATING, None)


def test_an_answer_without_a_status_leaves_the_status_unknown(fake_client, requested):
    fake_client.create_status = None
    claimed = claim(requested("media"))

    services.filespace_ensure_remote(filespace=claimed, client=fake_client)

    row = Filespace.objects.get(pk=claimed.pk)
    assert (row.state, row.remote_status) == (State.PROVISIONING, "")


def test_an_adopted_filespace_is_recorded_as_adopted_with_the_lookups_answer(
    fake_client, requested, time_machine
):
    # The first attempt sent its POST and died before recording the answer; its lease ran out.
    row = requested("media")
    Filespace.objects.filter(pk=row.pk).update(create_sent_at=timezone.now())
    fake_client.add(row.remote_name, status="provisioning")
    claim(row)
    Filespace.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = claim(row)

    outcome = services.filespace_ensure_remote(filespace=second, client=fake_client)

    assert (outcome.remote.id, outcome.adopted) == ("fs-1", True)
    assert fake_client.calls["create_filespace"] == 0
    assert timeline(row) == [
        (
            Kind.ADOPTED,
            "Adopted the existing filespace fs-1 left by an earlier attempt.",
            200,
            "status=provisioning",
        )
    ]


def test_a_row_failed_while_its_create_ran_is_not_moved_and_nothing_is_recorded(
    fake_client, requested
):
    claimed = claim(requested("media"))
    # The attempt stalled past its lease and the order was failed meanwhile (by staff, or by a
    # later attempt that found the name not ours); then its POST answered.
    Filespace.objects.filter(pk=claimed.pk).update(state=State.ERROR, last_error="Stopped.")

    assert (
        services.filespace_record_created(
            filespace=claimed, remote=fake_client.add(claimed.remote_name), adopted=False
        )
        is False
    )
    row = Filespace.objects.get(pk=claimed.pk)
    assert (row.state, row.remote_id, row.last_error) == (State.ERROR, None, "Stopped.")
    assert timeline(row) == []


def test_ensure_remote_returns_nothing_when_the_row_left_creating_during_the_post(
    fake_client, requested, monkeypatch
):
    claimed = claim(requested("media"))
    create = fake_client.create_filespace

    def create_then_force_failed(**kwargs):
        answer = create(**kwargs)
        Filespace.objects.filter(pk=claimed.pk).update(state=State.ERROR)
        return answer

    monkeypatch.setattr(fake_client, "create_filespace", create_then_force_failed)

    assert services.filespace_ensure_remote(filespace=claimed, client=fake_client) is None
    assert Filespace.objects.get(pk=claimed.pk).state == State.ERROR


def test_a_create_answer_without_the_id_is_completed_by_a_lookup(
    fake_client, requested, monkeypatch, capture_retry
):
    """The id is optional in the Swagger: the row records the id the lookup gives, and when
    the lookup has none either, the attempt is retried rather than recorded without one."""
    row = requested("media")
    create = fake_client.create_filespace

    def create_without_id(**kwargs):
        answer = create(**kwargs)
        return lucidlink.RemoteFilespace(**{**answer.__dict__, "id": None})

    monkeypatch.setattr(fake_client, "create_filespace", create_without_id)

    outcome = services.filespace_ensure_remote(filespace=claim(row), client=fake_client)

    assert outcome.remote.id == "fs-1"
    assert Filespace.objects.get(pk=row.pk).remote_id == "fs-1"

    other = requested("other")
    found = fake_client.find_filespace
    monkeypatch.setattr(
        fake_client,
        "find_filespace",
        lambda name: lucidlink.RemoteFilespace(**{**found(name).__dict__, "id": None}),
    )
    with pytest.raises(lucidlink.Unavailable, match="did not give the id of"):
        services.filespace_ensure_remote(filespace=claim(other), client=fake_client)
    assert Filespace.objects.get(pk=other.pk).remote_id is None


# --- What a filespace holding our name must prove --------------------------------------------


def fail_through_the_task(fake_client, row, answer, monkeypatch) -> Filespace:
    """Run the task on a row whose POST answers 409 and whose lookup answers `answer`."""
    fake_client.fail("create_filespace", lucidlink.Conflict("Exists.", status=409))
    monkeypatch.setattr(fake_client, "find_filespace", lambda qualified_name: answer)
    tasks.create_filespace(row.pk)
    row.refresh_from_db()
    return row


def test_our_name_in_another_domain_is_not_adopted_even_after_our_own_post(
    fake_client, requested, monkeypatch
):
    row = requested("media")
    Filespace.objects.filter(pk=row.pk).update(create_sent_at=timezone.now())
    stranger = lucidlink.RemoteFilespace(
        **{**remote(row.remote_name).__dict__, "domain_id": "dom-other"}
    )

    row = fail_through_the_task(fake_client, row, stranger, monkeypatch)

    assert (row.state, row.remote_id) == (State.ERROR, None)
    assert row.last_error == not_ours(row, "it is in another domain or has another name")
    assert row.events.get(kind=Kind.FAILED).api_status == 409


def test_a_filespace_differing_from_the_intent_is_refused_naming_every_difference(
    fake_client, requested, monkeypatch
):
    row = requested("media", endpoint="https://s3.example.net")
    Filespace.objects.filter(pk=row.pk).update(create_sent_at=timezone.now())
    answer = remote(
        row.remote_name,
        provider="AWS",
        region="eu-de",
        owner="customer",
        endpoint="https://other.example.net",
        subscription_type="business",
        version=2,
    )

    row = fail_through_the_task(fake_client, row, answer, monkeypatch)

    assert row.last_error == not_ours(
        row,
        "its provider is AWS; its region is eu-de; its owner is customer; "
        "its subscription type is business; its version is 2; "
        "its endpoint is https://other.example.net",
    )
    assert row.events.get(kind=Kind.FAILED).api_status == 409


def test_another_bucket_is_named_alone_as_the_reason(fake_client, requested, monkeypatch):
    row = requested("media", bucket="acme-media")
    Filespace.objects.filter(pk=row.pk).update(create_sent_at=timezone.now())

    row = fail_through_the_task(
        fake_client,
        row,
        remote(row.remote_name, bucket="someone-elses", region="eu-de"),
        monkeypatch,
    )

    assert row.last_error == not_ours(row, "its storage is another bucket")


def test_a_name_taken_before_our_first_post_is_refused_with_that_reason(fake_client, requested):
    row = requested("media")
    fake_client.add(row.remote_name)  # made outside the portal

    tasks.create_filespace(row.pk)

    row.refresh_from_db()
    assert row.last_error == not_ours(
        row, "it existed before this order asked LucidLink for anything"
    )


def test_a_later_attempt_finding_our_name_without_any_intent_of_ours_refuses_it(
    fake_client, requested
):
    """An earlier attempt crashed before recording its intent, so it never sent a POST: the
    filespace the lookup finds cannot be ours."""
    row = requested("media")
    Filespace.objects.filter(pk=row.pk).update(
        state=State.CREATING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    fake_client.add(row.remote_name)

    tasks.create_filespace(row.pk)

    row.refresh_from_db()
    assert (row.state, row.remote_id) == (State.ERROR, None)
    assert row.last_error == not_ours(
        row, "it existed before this order asked LucidLink for anything"
    )
    assert fake_client.calls["create_filespace"] == 0


def test_a_conflict_the_lookup_cannot_find_is_refused_with_that_reason(fake_client, requested):
    row = requested("media")
    Filespace.objects.filter(pk=row.pk).update(create_sent_at=timezone.now())
    fake_client.fail("create_filespace", lucidlink.Conflict("Exists.", status=409))

    tasks.create_filespace(row.pk)

    row.refresh_from_db()
    assert row.last_error == not_ours(row, "it is not in the MSP's domain")


# --- A failed attempt ------------------------------------------------------------------------


UNAVAILABLE = lucidlink.Unavailable("503 Service Unavailable", retry_after=42, status=503)


def test_a_failed_attempt_releases_only_its_row_until_the_backoff_with_a_note(
    requested, time_machine
):
    one, other = requested("one"), requested("other")
    first = claim(one)
    claim(other)
    time_machine.move_to(LATER, tick=False)

    delay = services.filespace_schedule_retry(filespace=first, error=UNAVAILABLE)

    assert delay == 42
    one.refresh_from_db()
    now = timezone.now()
    assert (one.state, one.lease_until, one.next_poll_at, one.updated_at) == (
        State.REQUESTED,
        None,
        now + timedelta(seconds=42),
        now,
    )
    assert one.last_error == "LucidLink is unavailable (503 Service Unavailable); retrying."
    assert timeline(one) == [
        (Kind.RETRY, "Attempt 1 failed; next attempt in 42.0 s.", 503, "503 Service Unavailable")
    ]
    assert Filespace.objects.get(pk=other.pk).state == State.CREATING


def test_a_row_that_left_creating_during_the_attempt_is_not_put_back_to_wait(requested):
    claimed = claim(requested("media"))
    Filespace.objects.filter(pk=claimed.pk).update(state=State.ERROR, last_error="Stopped.")

    assert services.filespace_schedule_retry(filespace=claimed, error=UNAVAILABLE) is None

    row = Filespace.objects.get(pk=claimed.pk)
    assert (row.state, row.last_error) == (State.ERROR, "Stopped.")
    assert timeline(row) == []


def test_the_last_attempt_fails_the_row_with_lucidlinks_answer(requested, settings):
    settings.PROVISIONING_MAX_ATTEMPTS = 1
    claimed = claim(requested("media"))

    assert services.filespace_schedule_retry(filespace=claimed, error=UNAVAILABLE) is None

    row = Filespace.objects.get(pk=claimed.pk)
    assert row.state == State.ERROR
    failed = row.events.get(kind=Kind.FAILED)
    assert (failed.api_status, failed.api_answer) == (503, "503 Service Unavailable")


def test_a_stalled_last_attempt_never_fails_a_row_another_attempt_created(
    fake_client, requested, settings
):
    """Attempt N stalled, its lease ran out, attempt N+1 created the filespace; N's POST then
    times out. Out of attempts or not, N must leave the `provisioning` row alone."""
    settings.PROVISIONING_MAX_ATTEMPTS = 1
    stalled = claim(requested("media"))
    Filespace.objects.filter(pk=stalled.pk).update(
        state=State.PROVISIONING, remote_id="fs-1", lease_until=None
    )

    assert services.filespace_schedule_retry(filespace=stalled, error=UNAVAILABLE) is None

    row = Filespace.objects.get(pk=stalled.pk)
    assert (row.state, row.remote_id) == (State.PROVISIONING, "fs-1")


# --- The request -----------------------------------------------------------------------------


def test_a_request_copies_the_orders_storage_is_due_at_once_and_sends_its_task(
    filespace_factory, user_factory, monkeypatch, time_machine
):
    """The row is due now: should the task message be lost, the reconciler re-sends it."""
    from django.core.exceptions import ValidationError

    from portal.orders.models import Order

    time_machine.move_to(NOW, tick=False)
    sent = []
    monkeypatch.setattr(tasks.create_filespace, "delay_on_commit", sent.append)
    # A live filespace holds the name; set on the row directly, as order names are unique too.
    taken = filespace_factory(name="old", state=State.ACTIVE, remote_id="fs-1")
    Filespace.objects.filter(pk=taken.pk).update(remote_name=f"{taken.customer.name_prefix}-media")
    taken.refresh_from_db()
    order = Order.objects.create(
        customer=taken.customer,
        plan=taken.plan,
        name="archive",
        remote_name=f"{taken.customer.name_prefix}-archive",
        provider=taken.provider,
        region=taken.region,
        bucket="acme-archive",
        endpoint="https://s3.example.net",
        state=Order.State.PROVISIONING,
        idempotency_key="request-archive",
    )
    staff = user_factory()

    row = services.filespace_request(order=order, actor=staff)

    row.refresh_from_db()
    assert (row.state, row.requested_at, row.next_poll_at) == (
        State.REQUESTED,
        timezone.now(),
        timezone.now(),
    )
    assert (row.bucket, row.endpoint) == ("acme-archive", "https://s3.example.net")
    assert sent == [row.pk]
    event = row.events.get()
    assert (event.kind, event.message, event.actor) == (Kind.REQUESTED, "Order placed.", staff)

    again = Order.objects.create(
        customer=taken.customer,
        plan=taken.plan,
        name="media",
        remote_name=taken.remote_name,
        provider=taken.provider,
        region=taken.region,
        state=Order.State.PROVISIONING,
        idempotency_key="request-media-again",
    )
    with pytest.raises(ValidationError) as refused:
        services.filespace_request(order=again)
    assert refused.value.message_dict == {
        "name": ["This name is already taken by another filespace. Choose another name."]
    }
