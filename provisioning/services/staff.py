"""Actions on a filespace: retry, force-fail (MSP) and delete (customer managers, MSP, system).

Each checks who may act and in which customer state, changes the row with a conditional UPDATE,
writes the timeline event, the audit entry and (through the timeline) the outbox row in one
transaction.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.customers.models import MANAGER_ROLES
from portal.orders.models import Order
from provisioning.models import Filespace
from provisioning.services.common import (
    Kind,
    State,
    duration,
    event_record,
)
from provisioning.services.status import (
    filespace_mark_failed,
)

# --- Staff actions ---------------------------------------------------------------------------


@action("filespace.retry", audit_refusals=True)
def filespace_retry(*, filespace: Filespace, by: Principal) -> Filespace:
    """MSP: send a failed filespace round again (create if nothing exists remotely, else poll).

    Refused while the customer is not active, because a retry may create a filespace at
    LucidLink.
    """
    from provisioning import tasks

    by = Principal.of(by)
    guards.require_msp(by, what="retry filespaces")
    before = filespace.state
    now = timezone.now()
    if filespace.remote_id is None:
        fields = {"state": State.REQUESTED, "attempts": 0}
    else:
        fields = {
            "state": State.PROVISIONING,
            "polls": 0,
            "poll_deadline": now + duration(settings.PROVISIONING_DEADLINE),
        }
    try:
        with transaction.atomic():
            guards.require_active_customer(by, filespace.customer, what="retry its filespaces")
            if Filespace.objects.filter(pk=filespace.pk).values_list("state", flat=True).get() != (
                State.ERROR
            ):
                raise Refused("Only a filespace in error can be retried.", code=Code.INVALID_STATE)
            moved = Filespace.objects.filter(pk=filespace.pk, state=State.ERROR).update(
                **fields,
                last_error="",
                failed_at=None,
                lease_until=None,
                next_poll_at=now,
                updated_at=now,
            )
            if moved != 1:
                raise Refused(
                    "The filespace changed meanwhile; reload and try again.",
                    code=Code.INVALID_STATE,
                )
            Order.objects.filter(pk=filespace.order_id, state=Order.State.FAILED).update(
                state=Order.State.PROVISIONING, updated_at=now
            )
            event_record(
                filespace=filespace,
                kind=Kind.STAFF_RETRY,
                message="Retried by staff.",
                actor=by.audit_user,
            )
            record(
                by=by,
                action="filespace.retry",
                customer=filespace.customer,
                target=filespace,
                before={"state": before},
                after={"state": fields["state"]},
            )
            if fields["state"] == State.REQUESTED:
                tasks.create_filespace.delay_on_commit(filespace.pk)
    except IntegrityError:
        raise Refused(
            "Another order has taken this filespace name since it failed; it cannot be retried.",
            code=Code.INVALID_STATE,
        ) from None
    filespace.refresh_from_db()
    return filespace


@action("filespace.force_fail", audit_refusals=True)
def filespace_force_fail(*, filespace: Filespace, by: Principal, reason: str) -> Filespace:
    """MSP: stop a stuck filespace and tell the customer why (any customer state)."""
    by = Principal.of(by)
    guards.require_msp(by, what="fail filespaces")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, in words the customer will read."})
    with transaction.atomic():
        before = (
            Filespace.objects.select_for_update()
            .values_list("state", flat=True)
            .get(pk=filespace.pk)
        )
        if before in (State.ERROR, State.DELETED, State.DELETING):
            raise Refused(
                f"A filespace in state {before} cannot be failed.", code=Code.INVALID_STATE
            )
        if not filespace_mark_failed(
            filespace=filespace, reason=reason, actor=by.audit_user, kind=Kind.STAFF_FAIL
        ):
            raise Refused(
                "The filespace changed meanwhile; reload and try again.", code=Code.INVALID_STATE
            )
        filespace.refresh_from_db()
        record(
            by=by,
            action="filespace.force_failed",
            customer=filespace.customer,
            target=filespace,
            before={"state": before},
            after={"state": filespace.state},
            note=reason,
        )
    return filespace


@action("filespace.delete", audit_refusals=True)
def filespace_delete(*, filespace: Filespace, by: Principal, note: str = "") -> Filespace:
    """Delete the filespace at LucidLink, then mark it deleted.

    Customer owners and admins while their organisation is active; MSP staff and the system
    (a carried-out termination) whatever its state.
    """
    from provisioning import tasks

    by = Principal.of(by)
    guards.require_role(by, filespace.customer, MANAGER_ROLES, what="delete filespaces")
    now = timezone.now()
    busy = Q(state=State.CREATING, lease_until__gte=now)
    with transaction.atomic():
        if by.side == "customer":
            guards.require_active_customer(by, filespace.customer, what="delete filespaces")
        before = Filespace.objects.values_list("state", flat=True).get(pk=filespace.pk)
        if before in (State.DELETING, State.DELETED):
            raise Refused("This filespace is already being deleted.", code=Code.INVALID_STATE)
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
            raise Refused(
                "The filespace is being created right now; try again in a few minutes.",
                code=Code.INVALID_STATE,
            )
        event_record(
            filespace=filespace,
            kind=Kind.DELETE_REQUESTED,
            message="Deletion requested.",
            actor=by.audit_user,
        )
        record(
            by=by,
            action="filespace.delete_requested",
            customer=filespace.customer,
            target=filespace,
            before={"state": before},
            after={"state": State.DELETING},
            note=note,
        )
        tasks.delete_filespace.delay_on_commit(filespace.pk)
    filespace.refresh_from_db()
    return filespace
