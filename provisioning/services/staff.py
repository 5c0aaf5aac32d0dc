"""Staff actions on a filespace; each writes an event with the acting user."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from portal.orders.models import Order
from provisioning.models import Filespace
from provisioning.services.common import (
    Kind,
    State,
    _seconds,
    event_record,
)
from provisioning.services.status import (
    filespace_mark_failed,
)

# --- Staff actions ---------------------------------------------------------------------------


def filespace_retry(*, filespace: Filespace, acting_user) -> Filespace:
    """Staff: send a failed filespace round again (create if nothing exists remotely, else poll)."""
    from provisioning import tasks

    if filespace.state != State.ERROR:
        raise ValidationError("Only a filespace in error can be retried.")
    now = timezone.now()
    if filespace.remote_id is None:
        fields = {"state": State.REQUESTED, "attempts": 0}
    else:
        fields = {
            "state": State.PROVISIONING,
            "polls": 0,
            "poll_deadline": now + _seconds(settings.PROVISIONING_DEADLINE),
        }
    try:
        with transaction.atomic():
            moved = Filespace.objects.filter(pk=filespace.pk, state=State.ERROR).update(
                **fields,
                last_error="",
                failed_at=None,
                lease_until=None,
                next_poll_at=now,
                updated_at=now,
            )
            if moved != 1:
                raise ValidationError("The filespace changed meanwhile; reload and try again.")
            Order.objects.filter(pk=filespace.order_id, state=Order.State.FAILED).update(
                state=Order.State.PROVISIONING, updated_at=now
            )
            event_record(
                filespace=filespace,
                kind=Kind.STAFF_RETRY,
                message="Retried by staff.",
                actor=acting_user,
            )
            if fields["state"] == State.REQUESTED:
                tasks.create_filespace.delay_on_commit(filespace.pk)
    except IntegrityError:
        raise ValidationError(
            "Another order has taken this filespace name since it failed; it cannot be retried."
        ) from None
    filespace.refresh_from_db()
    return filespace


def filespace_force_fail(*, filespace: Filespace, acting_user, reason: str) -> Filespace:
    """Staff: stop a stuck filespace and tell the customer why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, in words the customer will read."})
    if filespace.state in (State.ERROR, State.DELETED, State.DELETING):
        raise ValidationError(f"A filespace in state {filespace.state} cannot be failed.")
    if not filespace_mark_failed(
        filespace=filespace, reason=reason, actor=acting_user, kind=Kind.STAFF_FAIL
    ):
        raise ValidationError("The filespace changed meanwhile; reload and try again.")
    return filespace


def filespace_delete(*, filespace: Filespace, acting_user) -> Filespace:
    """Staff (or the customer, later): delete the filespace at LucidLink, then mark it deleted."""
    from provisioning import tasks

    now = timezone.now()
    if filespace.state in (State.DELETING, State.DELETED):
        raise ValidationError("This filespace is already being deleted.")
    busy = Q(state=State.CREATING, lease_until__gte=now)
    with transaction.atomic():
        moved = (
            Filespace.objects.filter(pk=filespace.pk)
            .exclude(state__in=(State.DELETING, State.DELETED))
            .exclude(busy)
            .update(
                state=State.DELETING,
                deleting_at=now,
                attempts=0,
                lease_until=None,
                next_poll_at=now,
                updated_at=now,
            )
        )
        if moved != 1:
            raise ValidationError(
                "The filespace is being created right now; try again in a few minutes."
            )
        event_record(
            filespace=filespace,
            kind=Kind.DELETE_REQUESTED,
            message="Deletion requested.",
            actor=acting_user,
        )
        tasks.delete_filespace.delay_on_commit(filespace.pk)
    filespace.refresh_from_db()
    return filespace
