"""The delete step's own rules (provisioning.services.delete), one service call at a time:
which row moves, what a redelivered task changes, whose filespace is deleted at LucidLink, and
how long a failed attempt waits. The customer's and staff's paths to it are tested in tests/web
and tests/staff."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import lucidlink, services
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services.common import poll_delay

pytestmark = pytest.mark.django_db
State = Filespace.State
NOW = "2026-06-10T12:00:00Z"


@pytest.fixture
def deleting(fake_client, filespace_factory, time_machine):
    """A `deleting` row due now; `remote=True` gives it a filespace at LucidLink."""
    time_machine.move_to(NOW, tick=False)

    def make(name: str, *, remote: bool = True, attempts: int = 1, **fields) -> Filespace:
        filespace = filespace_factory(state=State.DELETING, name=name, domain_name="msp", **fields)
        remote_id = fake_client.add(filespace.remote_name, status="ready").id if remote else None
        Filespace.objects.filter(pk=filespace.pk).update(
            remote_id=remote_id,
            attempts=attempts,
            next_poll_at=timezone.now() - timedelta(seconds=1),
            last_error="Delete will be retried: LucidLink is unavailable.",
            updated_at=timezone.now() - timedelta(hours=1),
        )
        filespace.refresh_from_db()
        return filespace

    return make


def test_deleting_one_filespace_moves_that_row_once_and_no_other(
    fake_client, deleting, time_machine
):
    one, other = deleting("one"), deleting("other")
    claimed = services.filespace_claim_for_delete(filespace_id=one.pk)
    assert claimed.updated_at == timezone.now()  # the claim is a change of the row
    time_machine.move_to("2026-06-10T12:00:05Z", tick=False)  # LucidLink answers 5 s later
    assert services.filespace_remove_remote(filespace=claimed, client=fake_client) is True
    one.refresh_from_db()
    other.refresh_from_db()
    assert one.remote_id not in fake_client.filespaces
    assert (one.state, one.deleted_at, one.updated_at) == (
        State.DELETED,
        timezone.now(),
        timezone.now(),
    )
    assert (one.lease_until, one.next_poll_at, one.last_error) == (None, None, "")
    assert other.state == State.DELETING and other.remote_id in fake_client.filespaces
    timeline = ProvisioningEvent.objects.filter(filespace=one)
    assert list(timeline.values_list("kind", "message", "api_status")) == [
        ("deleted", "The filespace was deleted at LucidLink.", 204)
    ]
    # The task redelivered (acks_late): the row is deleted already, nothing more is recorded.
    assert services.filespace_remove_remote(filespace=claimed, client=fake_client) is False
    assert timeline.count() == 1


def test_a_row_without_its_remote_id_deletes_only_a_filespace_provably_its_own(
    fake_client, deleting
):
    # This row never sent a create (no intent recorded): a filespace holding its name at
    # LucidLink is someone else's, made before or outside this order, and is left alone.
    stranger = deleting("stranger", remote=False)
    held = fake_client.add(stranger.remote_name, status="ready")
    claimed = services.filespace_claim_for_delete(filespace_id=stranger.pk)
    assert services.filespace_remove_remote(filespace=claimed, client=fake_client) is True
    assert held.id in fake_client.filespaces
    assert fake_client.calls["delete_filespace"] == 0
    stranger.refresh_from_db()
    assert stranger.state == State.DELETED


def test_a_delete_waits_for_lucidlink_to_finish_provisioning_however_many_attempts(
    deleting, settings
):
    row = deleting("busy", attempts=settings.PROVISIONING_MAX_ATTEMPTS + 3)
    busy = lucidlink.Conflict("Cannot delete filespace while in status `provisioning`.", status=409)
    delay = services.filespace_schedule_delete_retry(filespace=row, error=busy)
    assert delay == poll_delay(6)  # the slowest status-check cadence, not the failure backoff
    row.refresh_from_db()
    assert row.state == State.DELETING
    assert row.next_poll_at == timezone.now() + timedelta(seconds=delay)
    assert row.last_error == f"Delete will be retried: {busy.message}"


def test_a_throttled_delete_waits_at_least_as_long_as_lucidlink_asked(deleting):
    row = deleting("throttled", attempts=1)
    throttled = lucidlink.Unavailable("Too many requests.", status=429, retry_after=3600)
    assert services.filespace_schedule_delete_retry(filespace=row, error=throttled) == 3600
    row.refresh_from_db()
    assert row.next_poll_at == timezone.now() + timedelta(hours=1)
    assert row.last_error == "Delete will be retried: Too many requests."


def test_a_delete_out_of_attempts_fails_with_lucidlinks_answer_recorded(deleting, settings):
    row = deleting("doomed", attempts=settings.PROVISIONING_MAX_ATTEMPTS)
    down = lucidlink.Unavailable("LucidLink is unavailable.", status=503)
    assert services.filespace_schedule_delete_retry(filespace=row, error=down) is None
    row.refresh_from_db()
    assert row.state == State.ERROR
    failed = ProvisioningEvent.objects.get(filespace=row, kind="failed")
    assert (failed.api_status, failed.api_answer) == (503, "LucidLink is unavailable.")
    assert (
        failed.message
        == row.last_error
        == (
            f"Deleting the filespace failed after {settings.PROVISIONING_MAX_ATTEMPTS} attempts "
            "(LucidLink is unavailable.). Our support team has been told."
        )
    )
