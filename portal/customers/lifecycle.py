"""Customer lifecycle: suspend, resume and terminate (with a second staff member's approval).

LucidLink has no suspend call, so suspension lives in the portal only (docs/staff.md): no new
orders, customer management locked, a banner on every page, filespaces and billing untouched.
Termination suspends at once, waits for a second staff member's approval and then for
TERMINATION_GRACE_DAYS before `carry_out_terminations` schedules each filespace's deletion.
Every change writes an audit entry in the same transaction.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.services import audit_record
from portal.customers.models import Customer

logger = logging.getLogger(__name__)

Status = Customer.Status


class CustomerLocked(ValidationError):
    """The customer is not active, so it may not change its team, filespaces or users."""


def _locked_message(status: str) -> str:
    word = "terminated" if status == Status.TERMINATED else "suspended"
    return (
        f"Your organisation's account is {word}, so its team, filespaces and filespace users "
        f"cannot be changed. Contact {settings.SUPPORT_EMAIL} for help."
    )


def customer_ensure_manageable(*, customer: Customer) -> None:
    """Raise CustomerLocked unless the customer is active (read fresh from the database).

    Called by every customer-side write that changes the organisation: invitations, member
    changes, filespace deletes, filespace user changes.
    """
    status = Customer.objects.filter(pk=customer.pk).values_list("status", flat=True).first()
    if status != Status.ACTIVE:
        raise CustomerLocked(_locked_message(status or Status.TERMINATED), code="locked")


def _require_staff(user, what: str) -> None:
    if user is None or not getattr(user, "is_staff", False) or not user.is_active:
        raise ValidationError(f"Only MSP staff can {what}.")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason; it is kept in the audit log."})
    return reason


def _set_status(*, customer: Customer, from_statuses, to_status: str) -> bool:
    moved = Customer.objects.filter(pk=customer.pk, status__in=list(from_statuses)).update(
        status=to_status
    )
    if moved == 1:
        customer.status = to_status
    return moved == 1


def customer_suspend(*, customer: Customer, acting_user, reason: str) -> Customer:
    """Staff: suspend an active customer (no new orders, management locked, billing goes on)."""
    reason = _require_reason(reason)
    with transaction.atomic():
        if not _set_status(
            customer=customer, from_statuses=[Status.ACTIVE], to_status=Status.SUSPENDED
        ):
            raise ValidationError("Only an active customer can be suspended; reload the page.")
        audit_record(
            actor=acting_user,
            action="customer.suspended",
            customer=customer,
            target=customer,
            before={"status": Status.ACTIVE},
            after={"status": Status.SUSPENDED},
            note=reason,
        )
    return customer


def customer_resume(*, customer: Customer, acting_user, reason: str = "") -> Customer:
    """Staff: lift a suspension. Refused while a termination is open (cancel that instead)."""
    from portal.staff.models import CustomerTermination

    with transaction.atomic():
        # A termination request locks this row before it opens; locking it here too means one
        # opened concurrently is either seen below or waits, never left open on an active customer.
        Customer.objects.select_for_update().get(pk=customer.pk)
        if CustomerTermination.objects.filter(
            customer=customer, state__in=CustomerTermination.OPEN_STATES
        ).exists():
            raise ValidationError(
                "A termination of this customer is open; cancel it to resume the customer."
            )
        if not _set_status(
            customer=customer, from_statuses=[Status.SUSPENDED], to_status=Status.ACTIVE
        ):
            raise ValidationError("Only a suspended customer can be resumed; reload the page.")
        audit_record(
            actor=acting_user,
            action="customer.resumed",
            customer=customer,
            target=customer,
            before={"status": Status.SUSPENDED},
            after={"status": Status.ACTIVE},
            note=(reason or "").strip(),
        )
    return customer


def customer_termination_request(*, customer: Customer, acting_user, reason: str):
    """Staff: ask to terminate a customer. Suspends it now; deletes nothing until approved."""
    from portal.staff.models import CustomerTermination

    _require_staff(acting_user, "request a termination")
    reason = _require_reason(reason)
    try:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=customer.pk)
            if locked.status == Status.TERMINATED:
                raise ValidationError("This customer is already terminated.")
            termination = CustomerTermination.objects.create(
                customer=locked,
                reason=reason,
                previous_status=locked.status,
                requested_by=acting_user,
            )
            if locked.status == Status.ACTIVE:
                _set_status(
                    customer=locked, from_statuses=[Status.ACTIVE], to_status=Status.SUSPENDED
                )
            audit_record(
                actor=acting_user,
                action="customer.termination_requested",
                customer=locked,
                target=termination,
                before={"status": termination.previous_status},
                after={"status": locked.status, "termination": termination.state},
                note=reason,
            )
    except IntegrityError:
        raise ValidationError(
            "A termination of this customer is already open; approve or cancel that one."
        ) from None
    customer.status = locked.status
    return termination


def customer_termination_approve(*, termination, acting_user):
    """Staff: the second approval. The requester cannot approve their own request."""
    from portal.staff.models import CustomerTermination

    _require_staff(acting_user, "approve a termination")
    with transaction.atomic():
        locked = CustomerTermination.objects.select_for_update().get(pk=termination.pk)
        if locked.state != CustomerTermination.State.AWAITING_APPROVAL:
            raise ValidationError(
                f"This termination is already {locked.get_state_display().lower()}."
            )
        if locked.requested_by_id == acting_user.pk:
            raise ValidationError(
                "A termination needs a second staff member: someone other than the requester "
                "must approve it."
            )
        now = timezone.now()
        locked.state = CustomerTermination.State.APPROVED
        locked.approved_by = acting_user
        locked.approved_at = now
        locked.delete_after = now + timedelta(days=settings.TERMINATION_GRACE_DAYS)
        locked.save(
            update_fields=["state", "approved_by", "approved_at", "delete_after", "updated_at"]
        )
        audit_record(
            actor=acting_user,
            action="customer.termination_approved",
            customer=locked.customer,
            target=locked,
            before={"termination": CustomerTermination.State.AWAITING_APPROVAL},
            after={"termination": locked.state, "delete_after": locked.delete_after},
        )
    return locked


def customer_termination_cancel(*, termination, acting_user, reason: str = ""):
    """Staff: withdraw an open termination; the customer goes back to its earlier status."""
    from portal.staff.models import CustomerTermination

    _require_staff(acting_user, "cancel a termination")
    with transaction.atomic():
        locked = CustomerTermination.objects.select_for_update().get(pk=termination.pk)
        if not locked.is_open:
            raise ValidationError(
                f"This termination is already {locked.get_state_display().lower()}."
            )
        before = locked.state
        locked.state = CustomerTermination.State.CANCELLED
        locked.cancelled_by = acting_user
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["state", "cancelled_by", "cancelled_at", "updated_at"])
        customer = locked.customer
        if locked.previous_status == Status.ACTIVE:
            _set_status(
                customer=customer, from_statuses=[Status.SUSPENDED], to_status=Status.ACTIVE
            )
        audit_record(
            actor=acting_user,
            action="customer.termination_cancelled",
            customer=customer,
            target=locked,
            before={"termination": before},
            after={"termination": locked.state, "status": customer.status},
            note=(reason or "").strip(),
        )
    return locked


def terminations_due(*, now: datetime | None = None) -> list[int]:
    """Ids of approved terminations whose grace period has passed."""
    from portal.staff.models import CustomerTermination

    now = now or timezone.now()
    return list(
        CustomerTermination.objects.filter(
            state=CustomerTermination.State.APPROVED,
            approved_by__isnull=False,
            delete_after__lte=now,
        ).values_list("pk", flat=True)
    )


def termination_carry_out(*, termination_id: int, now: datetime | None = None) -> bool:
    """Schedule the deletion of every filespace of an approved, due termination.

    True once every filespace is deleting or deleted and the termination is marked carried
    out. Safe to run twice at once: `filespace_delete` moves each row with a conditional
    UPDATE and refuses one already deleting, and the final state change is conditional too. A
    filespace being created right now is left for the next run (the beat runs hourly).
    """
    from portal.orders.models import Order
    from portal.orders.services import order_reject
    from portal.staff.models import CustomerTermination
    from provisioning.models import Filespace
    from provisioning.services import filespace_delete

    now = now or timezone.now()
    due = CustomerTermination.State.APPROVED
    termination = (
        CustomerTermination.objects.select_related("customer")
        .filter(pk=termination_id, state=due, approved_by__isnull=False, delete_after__lte=now)
        .first()
    )
    if termination is None:
        return False
    customer = termination.customer
    with transaction.atomic():
        if _set_status(
            customer=customer,
            from_statuses=[Status.ACTIVE, Status.SUSPENDED],
            to_status=Status.TERMINATED,
        ):
            audit_record(
                actor=None,
                action="customer.terminated",
                customer=customer,
                target=customer,
                before={"status": termination.previous_status},
                after={"status": Status.TERMINATED},
                note=f"Termination {termination.pk} approved; grace period over.",
            )
    for order in Order.objects.filter(customer=customer, state=Order.State.AWAITING_APPROVAL):
        try:
            with transaction.atomic():
                order_reject(order=order, acting_user=None, reason="The account was terminated.")
                audit_record(
                    actor=None,
                    action="order.rejected",
                    customer=customer,
                    target=order,
                    before={"state": Order.State.AWAITING_APPROVAL},
                    after={"state": Order.State.REJECTED},
                    note="The account was terminated.",
                )
        except ValidationError:
            continue
    remaining = 0
    live = Filespace.objects.filter(customer=customer).exclude(
        state__in=[Filespace.State.DELETING, Filespace.State.DELETED]
    )
    for filespace in live:
        try:
            with transaction.atomic():
                before = filespace.state
                filespace_delete(filespace=filespace, acting_user=None)
                audit_record(
                    actor=None,
                    action="filespace.delete_requested",
                    customer=customer,
                    target=filespace,
                    before={"state": before},
                    after={"state": filespace.state},
                    note=f"Customer terminated (termination {termination.pk}).",
                )
        except ValidationError as exc:
            remaining += 1
            logger.info("Termination %s: filespace %s waits: %s", termination.pk, filespace.pk, exc)
    if remaining:
        return False
    with transaction.atomic():
        done = CustomerTermination.objects.filter(pk=termination.pk, state=due).update(
            state=CustomerTermination.State.CARRIED_OUT, carried_out_at=now, updated_at=now
        )
        if done == 1:
            audit_record(
                actor=None,
                action="customer.termination_carried_out",
                customer=customer,
                target=termination,
                before={"termination": due},
                after={"termination": CustomerTermination.State.CARRIED_OUT},
            )
    return done == 1
