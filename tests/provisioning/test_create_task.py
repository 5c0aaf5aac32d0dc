"""create_filespace against a fake client: claim, look-then-create, adopt, retry, fail."""

import contextlib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink, tasks
from provisioning.models import Filespace, ProvisioningEvent
from tests.provisioning.conftest import RetryCalled

State = Filespace.State
Kind = ProvisioningEvent.Kind


def kinds(filespace) -> list[str]:
    return list(filespace.events.order_by("at", "id").values_list("kind", flat=True))


@pytest.fixture
def requested(filespace_factory):
    return filespace_factory(name="media", next_poll_at=timezone.now())


def test_a_requested_filespace_is_created_and_starts_provisioning(fake_client, requested):
    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.PROVISIONING
    assert requested.remote_id in fake_client.filespaces
    assert requested.qualified_name == "cust1-media.msp"
    assert requested.next_poll_at > timezone.now()
    assert requested.poll_deadline > requested.next_poll_at
    assert requested.attempts == 1
    assert fake_client.calls["create_filespace"] == 1
    assert kinds(requested) == [Kind.CREATE_SENT, Kind.CREATED]


def test_the_create_sends_the_plan_and_order_storage(fake_client, requested, monkeypatch):
    sent = {}
    original = fake_client.create_filespace

    def spy(**kwargs):
        sent.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(fake_client, "create_filespace", spy)
    tasks.create_filespace(requested.pk)

    assert sent == {
        "domain_id": "dom-1",
        "name": "cust1-media",
        "subscription_type": "teams",
        "owner": "lucidlink",
        "provider": "IBM",
        "region": "us-east",
        "endpoint": None,
        "bucket": None,
        "version": 3,
    }


def test_a_second_delivery_creates_nothing(fake_client, requested):
    tasks.create_filespace(requested.pk)
    tasks.create_filespace(requested.pk)

    assert fake_client.calls["create_filespace"] == 1
    assert Filespace.objects.get(pk=requested.pk).attempts == 1


def test_a_delivery_while_another_worker_holds_the_lease_does_nothing(fake_client, requested):
    Filespace.objects.filter(pk=requested.pk).update(
        state=State.CREATING, lease_until=timezone.now() + timedelta(minutes=1)
    )

    tasks.create_filespace(requested.pk)

    assert fake_client.calls == {}
    assert Filespace.objects.get(pk=requested.pk).state == State.CREATING


def test_a_retry_after_a_crash_adopts_the_filespace_the_first_attempt_created(
    fake_client, requested
):
    # The first worker's POST succeeded, then it died before recording it; its lease expired.
    fake_client.add("cust1-media", provider="IBM", region="us-east")
    Filespace.objects.filter(pk=requested.pk).update(
        state=State.CREATING,
        attempts=1,
        lease_until=timezone.now() - timedelta(seconds=1),
        create_sent_at=timezone.now() - timedelta(seconds=30),
    )

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.PROVISIONING
    assert requested.remote_id == "fs-1"
    assert fake_client.calls["create_filespace"] == 0
    assert kinds(requested) == [Kind.ADOPTED]


def test_a_conflict_on_create_adopts_a_filespace_that_is_provably_ours(fake_client, requested):
    # Made by an earlier attempt whose answer was lost; a staff retry then reset the count, so
    # this attempt POSTs first. The intent recorded before that earlier POST proves it ours.
    fake_client.add("cust1-media")
    Filespace.objects.filter(pk=requested.pk).update(create_sent_at=timezone.now())

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.PROVISIONING
    assert requested.remote_id == "fs-1"
    assert fake_client.calls["create_filespace"] == 1
    assert len(fake_client.filespaces) == 1
    assert kinds(requested) == [Kind.CREATE_SENT, Kind.ADOPTED]


def test_the_first_attempt_creates_without_a_lookup_and_a_later_one_looks_first(
    fake_client, requested, capture_retry
):
    fake_client.fail("create_filespace", lucidlink.Unavailable("503", status=503))
    with pytest.raises(RetryCalled):
        tasks.create_filespace(requested.pk)
    assert fake_client.calls["find_filespace"] == 0
    Filespace.objects.filter(pk=requested.pk).update(next_poll_at=timezone.now())

    tasks.create_filespace(requested.pk)

    assert fake_client.calls["find_filespace"] == 1
    assert Filespace.objects.get(pk=requested.pk).state == State.PROVISIONING


def test_a_filespace_with_our_name_in_another_region_is_not_adopted(fake_client, requested):
    fake_client.add("cust1-media", provider="IBM", region="eu-de")
    Filespace.objects.filter(pk=requested.pk).update(create_sent_at=timezone.now())

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.ERROR
    assert requested.remote_id is None
    assert "already used by another filespace" in requested.last_error
    assert "region is eu-de" in requested.last_error
    assert "Order again with a different name" in requested.last_error
    assert Order.objects.get(pk=requested.order_id).state == Order.State.FAILED
    assert fake_client.calls["create_filespace"] == 1  # answered 409
    assert len(fake_client.filespaces) == 1


def test_a_conflict_with_a_filespace_outside_our_domain_fails_with_a_clear_reason(
    fake_client, requested
):
    fake_client.fail(
        "create_filespace", lucidlink.Conflict("Filespace name already exists.", status=409)
    )
    Filespace.objects.filter(pk=requested.pk).update(create_sent_at=timezone.now())

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.ERROR
    assert "not in the MSP's domain" in requested.last_error
    event = requested.events.get(kind=Kind.FAILED)
    assert event.api_status == 409


def test_a_disabled_region_fails_the_order_telling_the_customer_to_choose_another(
    fake_client, requested
):
    fake_client.fail(
        "create_filespace",
        lucidlink.Unprocessable(
            "Filespace creation is currently disabled in the selected region.", status=422
        ),
    )

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.ERROR
    assert requested.last_error == (
        "Filespace creation is currently disabled in region us-east. "
        "Choose another region and order again."
    )
    assert fake_client.calls["create_filespace"] == 1
    assert len(mail.outbox) == 0  # sent after commit; the test transaction never commits


def test_a_failure_email_is_sent_after_commit(
    fake_client, requested, django_capture_on_commit_callbacks
):
    fake_client.fail("create_filespace", lucidlink.Unprocessable("disabled", status=422))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.create_filespace(requested.pk)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["billing1@example.com"]
    assert "could not be set up" in message.subject
    assert "Choose another region and order again." in message.body
    assert "Choose another region" in message.alternatives[0][0]


def test_unavailable_schedules_a_retry_no_sooner_than_retry_after(
    fake_client, requested, capture_retry
):
    fake_client.fail(
        "create_filespace",
        lucidlink.Unavailable("429 Too Many Requests", retry_after=42, status=429),
    )

    with pytest.raises(RetryCalled):
        tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert capture_retry[0] >= 42
    assert requested.state == State.REQUESTED
    assert requested.next_poll_at >= timezone.now() + timedelta(seconds=41)
    assert kinds(requested)[-1] == Kind.RETRY


def test_a_duplicate_message_during_the_backoff_does_not_call_lucidlink(
    fake_client, requested, capture_retry
):
    fake_client.fail("create_filespace", lucidlink.Unavailable("503", retry_after=30, status=503))
    with pytest.raises(RetryCalled):
        tasks.create_filespace(requested.pk)
    calls_before = sum(fake_client.calls.values())

    tasks.create_filespace(requested.pk)

    assert sum(fake_client.calls.values()) == calls_before
    assert Filespace.objects.get(pk=requested.pk).state == State.REQUESTED


def test_the_backoff_grows_and_has_jitter(settings):
    from provisioning.services import retry_delay

    settings.PROVISIONING_RETRY_BASE = 2
    settings.PROVISIONING_RETRY_CAP = 300
    first = [retry_delay(1) for _ in range(50)]
    fifth = [retry_delay(5) for _ in range(50)]
    assert all(1 <= d <= 2 for d in first)
    assert all(16 <= d <= 32 for d in fifth)
    assert len(set(fifth)) > 1
    assert retry_delay(20) <= 300
    assert retry_delay(1, retry_after=120) == 120


def test_retries_are_bounded_and_end_in_a_visible_error(
    fake_client, requested, capture_retry, settings
):
    settings.PROVISIONING_MAX_ATTEMPTS = 3
    fake_client.fail("create_filespace", lucidlink.Unavailable("timed out"), times=10)

    for _ in range(3):
        Filespace.objects.filter(pk=requested.pk).update(next_poll_at=timezone.now())
        with contextlib.suppress(RetryCalled):
            tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert len(capture_retry) == 2
    assert requested.state == State.ERROR
    assert "could not be reached after 3 attempts" in requested.last_error
    assert [k for k in kinds(requested) if k != Kind.CREATE_SENT] == [
        Kind.RETRY,
        Kind.RETRY,
        Kind.FAILED,
    ]


def test_a_rejected_create_is_never_retried(fake_client, requested, capture_retry):
    fake_client.fail(
        "create_filespace",
        lucidlink.Rejected("Invalid request. Check filespace model definition.", status=400),
    )

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert capture_retry == []
    assert requested.state == State.ERROR
    assert "Invalid request" in requested.last_error


def test_a_task_for_a_row_that_is_gone_or_past_the_step_returns(fake_client, filespace_factory):
    done = filespace_factory(state=State.ACTIVE, remote_id="fs-9")

    tasks.create_filespace(done.pk)
    tasks.create_filespace(999_999)

    assert fake_client.calls == {}


def test_a_filespace_provisioned_at_once_goes_straight_to_ready(fake_client, requested):
    fake_client.create_status = "provisioned"

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.PROVISIONED
    assert Order.objects.get(pk=requested.order_id).state == Order.State.FULFILLED


def test_a_requested_row_without_a_due_time_is_still_created(fake_client, filespace_factory):
    undated = filespace_factory(name="undated", next_poll_at=None)

    tasks.create_filespace(undated.pk)

    assert Filespace.objects.get(pk=undated.pk).state == State.PROVISIONING


def test_a_filespace_with_our_name_on_another_bucket_is_not_adopted(fake_client, filespace_factory):
    own = filespace_factory(
        name="media", bucket="acme-media", attempts=1, create_sent_at=timezone.now()
    )
    fake_client.add("cust1-media", bucket="someone-elses")

    tasks.create_filespace(own.pk)

    own.refresh_from_db()
    assert own.state == State.ERROR
    assert "another bucket" in own.last_error


def test_a_filespace_with_our_name_and_bucket_is_adopted(fake_client, filespace_factory):
    # An earlier attempt recorded its create intent and sent the POST; its answer was lost.
    own = filespace_factory(
        name="media", bucket="acme-media", attempts=1, create_sent_at=timezone.now()
    )
    fake_client.add("cust1-media", bucket="acme-media")

    tasks.create_filespace(own.pk)

    assert Filespace.objects.get(pk=own.pk).state == State.PROVISIONING


def test_an_account_without_a_domain_fails_the_order_with_words_for_the_customer(
    fake_client, requested, monkeypatch
):
    from provisioning.domain import DomainMissing

    def missing(client):
        raise DomainMissing("The LucidLink account has no domain yet.")

    monkeypatch.setattr("provisioning.services.common.domain_for", missing)

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.state == State.ERROR
    assert "not ready to create filespaces" in requested.last_error
    assert fake_client.calls["create_filespace"] == 0


def test_an_attempt_that_lost_its_claim_before_the_post_sends_nothing(fake_client, requested):
    from provisioning import services

    claimed = services.filespace_claim_for_create(filespace_id=requested.pk)
    # It stalled past its lease and another attempt took the row over meanwhile.
    Filespace.objects.filter(pk=requested.pk).update(attempts=2)

    with pytest.raises(services.LeaseLost):
        services.filespace_ensure_remote(filespace=claimed, client=fake_client)

    assert fake_client.calls["create_filespace"] == 0


def test_a_running_task_renews_its_lease_and_a_taken_over_one_cannot(fake_client, requested):
    from provisioning.services.lease import lease_renew

    claimed = services_claim(requested)
    Filespace.objects.filter(pk=requested.pk).update(lease_until=timezone.now())
    key = {"filespace_id": claimed.pk, "state": State.CREATING, "attempts": claimed.attempts}

    assert lease_renew(**key) is True
    assert Filespace.objects.get(pk=requested.pk).lease_until > timezone.now() + timedelta(
        seconds=10
    )
    assert lease_renew(**{**key, "attempts": claimed.attempts + 1}) is False


def services_claim(row):
    from provisioning import services

    return services.filespace_claim_for_create(filespace_id=row.pk)


def test_a_lookup_answer_with_our_name_in_another_domain_is_never_adopted(
    fake_client, requested, monkeypatch
):
    """Should LucidLink's lookup answer with another domain's filespace, it is not ours."""
    stranger = fake_client.add("cust1-media", domain_id="dom-other")
    fake_client.fail("create_filespace", lucidlink.Conflict("Exists.", status=409))
    monkeypatch.setattr(fake_client, "find_filespace", lambda qualified_name: stranger)

    tasks.create_filespace(requested.pk)

    requested.refresh_from_db()
    assert requested.remote_id is None
    assert requested.state == State.ERROR
