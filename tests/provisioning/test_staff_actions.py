"""Staff actions (retry, force-fail, delete), the delete task and the append-only timeline."""

import contextlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink, services, tasks
from provisioning.models import AppendOnlyError, Filespace, ProvisioningEvent
from tests.provisioning.conftest import RetryCalled

State = Filespace.State
Kind = ProvisioningEvent.Kind


@pytest.fixture
def staff(user_factory):
    """MSP staff with a second factor (the filespace actions refuse staff without one)."""
    return user_factory("staff@example.com", is_staff=True, mfa=True)


def test_retrying_a_filespace_that_failed_before_creation_sends_the_create_again(
    filespace_factory, staff, django_capture_on_commit_callbacks, no_enqueue
):
    failed = filespace_factory(state=State.ERROR, last_error="boom", attempts=8)

    with django_capture_on_commit_callbacks(execute=True):
        services.filespace_retry(filespace=failed, acting_user=staff)

    failed.refresh_from_db()
    assert failed.state == State.REQUESTED
    assert failed.attempts == 0
    assert failed.last_error == ""
    assert Order.objects.get(pk=failed.order_id).state == Order.State.PROVISIONING
    assert no_enqueue == [("provisioning.tasks.create_filespace", (failed.pk,))]
    event = failed.events.get()
    assert (event.kind, event.actor) == (Kind.STAFF_RETRY, staff)


def test_retrying_a_filespace_that_exists_remotely_polls_it_again(filespace_factory, staff):
    failed = filespace_factory(state=State.ERROR, remote_id="fs-3")

    services.filespace_retry(filespace=failed, acting_user=staff)

    failed.refresh_from_db()
    assert failed.state == State.PROVISIONING
    assert failed.next_poll_at <= timezone.now()


def test_retrying_a_filespace_that_is_not_in_error_is_refused(filespace_factory, staff):
    active = filespace_factory(state=State.ACTIVE, remote_id="fs-3")

    with pytest.raises(ValidationError, match="Only a filespace in error"):
        services.filespace_retry(filespace=active, acting_user=staff)


def test_a_retry_loses_to_a_change_made_between_its_check_and_its_update(filespace_factory, staff):
    """The state check reads without a lock; the UPDATE's own `state=error` is what keeps a
    retry from moving a row another worker moved meanwhile (here: a staff delete)."""
    from django.db import connection

    failed = filespace_factory(state=State.ERROR)
    ran = []

    def someone_else_first(execute, sql, params, many, context):
        is_update = sql.lstrip().upper().startswith("UPDATE") and "provisioning_filespace" in sql
        if is_update and not ran:
            ran.append(sql)
            Filespace.objects.filter(pk=failed.pk).update(state=State.DELETING)
        return execute(sql, params, many, context)

    with (
        connection.execute_wrapper(someone_else_first),
        pytest.raises(ValidationError, match="changed meanwhile"),
    ):
        services.filespace_retry(filespace=failed, acting_user=staff)
    # (The other worker's write, simulated on our connection, rolls back with the refusal.)
    assert ran, "the retry never wrote the row"


def test_retrying_is_refused_when_a_new_order_took_the_name(
    filespace_factory, customer_factory, staff
):
    customer = customer_factory()
    failed = filespace_factory(customer=customer, name="media", state=State.ERROR)
    filespace_factory(customer=customer, name="media", state=State.PROVISIONING, remote_id="fs-4")

    with pytest.raises(ValidationError, match="taken this filespace name"):
        services.filespace_retry(filespace=failed, acting_user=staff)
    assert Filespace.objects.get(pk=failed.pk).state == State.ERROR


def test_force_failing_records_the_staff_reason_for_the_customer(filespace_factory, staff):
    stuck = filespace_factory(state=State.PROVISIONING, remote_id="fs-5")

    services.filespace_force_fail(
        filespace=stuck, acting_user=staff, reason="The storage region is being retired."
    )

    stuck.refresh_from_db()
    assert stuck.state == State.ERROR
    assert stuck.last_error == "The storage region is being retired."
    event = stuck.events.get()
    assert (event.kind, event.actor) == (Kind.STAFF_FAIL, staff)


def test_force_failing_needs_a_reason(filespace_factory, staff):
    stuck = filespace_factory(state=State.PROVISIONING, remote_id="fs-5")

    with pytest.raises(ValidationError):
        services.filespace_force_fail(filespace=stuck, acting_user=staff, reason="  ")
    assert Filespace.objects.get(pk=stuck.pk).state == State.PROVISIONING


def test_deleting_a_filespace_ends_deleted_after_the_task(
    fake_client, filespace_factory, staff, django_capture_on_commit_callbacks, no_enqueue
):
    remote = fake_client.add("cust1-media", status="initialized")
    active = filespace_factory(name="media", state=State.ACTIVE, remote_id=remote.id)

    with django_capture_on_commit_callbacks(execute=True):
        services.filespace_delete(filespace=active, acting_user=staff)
    assert no_enqueue == [("provisioning.tasks.delete_filespace", (active.pk,))]
    tasks.delete_filespace(active.pk)

    active.refresh_from_db()
    assert active.state == State.DELETED
    assert active.deleted_at is not None
    assert fake_client.filespaces == {}
    assert [e.kind for e in active.events.all()] == [Kind.DELETE_REQUESTED, Kind.DELETED]


def test_a_delete_that_finds_the_filespace_already_gone_ends_deleted(
    fake_client, filespace_factory
):
    gone = filespace_factory(state=State.DELETING, remote_id="fs-404", next_poll_at=timezone.now())

    tasks.delete_filespace(gone.pk)

    assert Filespace.objects.get(pk=gone.pk).state == State.DELETED


def test_a_delete_waits_while_lucidlink_is_still_provisioning(
    fake_client, filespace_factory, capture_retry
):
    remote = fake_client.add("cust1-media", status="provisioning")
    busy = filespace_factory(
        name="media", state=State.DELETING, remote_id=remote.id, next_poll_at=timezone.now()
    )

    with pytest.raises(RetryCalled):
        tasks.delete_filespace(busy.pk)

    busy.refresh_from_db()
    assert busy.state == State.DELETING
    assert busy.next_poll_at > timezone.now()
    assert capture_retry[0] > 0
    fake_client.set_status(remote.id, "provisioned")
    Filespace.objects.filter(pk=busy.pk).update(next_poll_at=timezone.now())
    tasks.delete_filespace(busy.pk)
    assert Filespace.objects.get(pk=busy.pk).state == State.DELETED


def test_a_delete_of_a_row_that_never_learned_its_remote_id_finds_it_by_name(
    fake_client, filespace_factory
):
    fake_client.add("cust1-media", status="provisioned")
    orphan = filespace_factory(
        name="media",
        state=State.DELETING,
        domain_name="msp",
        next_poll_at=timezone.now(),
        create_sent_at=timezone.now(),
    )

    tasks.delete_filespace(orphan.pk)

    assert Filespace.objects.get(pk=orphan.pk).state == State.DELETED
    assert fake_client.filespaces == {}


def test_deleting_while_a_create_is_running_is_refused(filespace_factory, staff):
    creating = filespace_factory(
        state=State.CREATING, lease_until=timezone.now() + timedelta(minutes=1)
    )

    with pytest.raises(ValidationError, match="being created right now"):
        services.filespace_delete(filespace=creating, acting_user=staff)


def test_a_delete_that_keeps_failing_ends_in_error(
    fake_client, filespace_factory, capture_retry, settings
):
    settings.PROVISIONING_MAX_ATTEMPTS = 2
    fake_client.fail("delete_filespace", lucidlink.Unavailable("503", status=503), times=5)
    row = filespace_factory(state=State.DELETING, remote_id="fs-1", next_poll_at=timezone.now())

    for _ in range(2):
        Filespace.objects.filter(pk=row.pk).update(next_poll_at=timezone.now())
        with contextlib.suppress(RetryCalled):
            tasks.delete_filespace(row.pk)

    row.refresh_from_db()
    assert row.state == State.ERROR
    assert "Deleting the filespace failed after 2 attempts" in row.last_error


def test_events_cannot_be_changed_or_removed_through_the_orm(filespace_factory):
    filespace = filespace_factory()
    event = services.event_record(filespace=filespace, kind=Kind.REQUESTED, message="placed")

    event.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert ProvisioningEvent.objects.get(pk=event.pk).message == "placed"


def test_secrets_never_appear_in_reprs(filespace_factory):
    filespace = filespace_factory(root_password="hunter2-root")
    order = filespace.order
    order.secret_key = "s3cr3t-key"
    order.save()

    assert "hunter2" not in repr(filespace) and "hunter2" not in str(filespace)
    assert "s3cr3t" not in repr(order) and "s3cr3t" not in str(order)
