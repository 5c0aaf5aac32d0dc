"""Customer lifecycle: suspend, resume and terminate (with a second staff member's approval).

LucidLink has no suspend call, so suspension lives in the portal only (docs/staff.md): no new
orders, customer management locked, a banner on every page, filespaces and billing untouched.
Termination suspends at once, waits for a second staff member's approval and then for
TERMINATION_GRACE_DAYS before `carry_out_terminations` schedules each filespace's deletion
(the `customer.termination_carry_out` action, in provisioning.services.termination: it owns
the filespaces and calls the two steps here that change the customer and its termination).
Every change writes an audit entry in the same transaction.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.actions.outbox import outbox_add
from portal.customers.models import Customer, CustomerTermination

Status = Customer.Status


class CustomerLocked(Refused):
    """The customer is not active, so it may not change its team, filespaces or users."""

    def __init__(self, message):
        super().__init__(message, code=Code.CUSTOMER_LOCKED)


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
    rows = Customer.objects.filter(pk=customer.pk)
    if transaction.get_connection().in_atomic_block:
        # Inside an action: hold the row until it commits, so a suspension waits or is seen.
        rows = rows.select_for_update()
    status = rows.values_list("status", flat=True).first()
    if status != Status.ACTIVE:
        raise CustomerLocked(_locked_message(status or Status.TERMINATED))


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


def _outbox_suspended(customer: Customer) -> None:
    """Each suspension is its own fact (a customer resumed and suspended again is told twice)."""
    now = timezone.now()
    outbox_add(
        event_type="customer.suspended",
        customer=customer,
        subject_type="customer",
        subject_id=customer.pk,
        facts={"suspended_at": now},
        dedupe_key=f"customer.suspended:{customer.pk}:{now.isoformat()}",
    )


@action("customer.suspend", audit_refusals=True)
def customer_suspend(*, customer: Customer, by: Principal, reason: str) -> Customer:
    """MSP, or the system for non-payment (dunning): suspend an active customer (no new orders,
    management locked, billing goes on)."""
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="suspend customers")
    reason = _require_reason(reason)
    with transaction.atomic():
        if not _set_status(
            customer=customer, from_statuses=[Status.ACTIVE], to_status=Status.SUSPENDED
        ):
            raise Refused(
                "Only an active customer can be suspended; reload the page.",
                code=Code.INVALID_STATE,
            )
        _outbox_suspended(customer)
        record(
            by=by,
            action="customer.suspended",
            customer=customer,
            target=customer,
            before={"status": Status.ACTIVE},
            after={"status": Status.SUSPENDED},
            note=reason,
        )
    return customer


@action("customer.resume", audit_refusals=True)
def customer_resume(*, customer: Customer, by: Principal, reason: str = "") -> Customer:
    """MSP: lift a suspension. Refused while a termination is open (cancel that instead)."""

    by = Principal.of(by)
    guards.require_msp_or_system(by, what="resume customers")  # the system: the dunning paid
    with transaction.atomic():
        # A termination request locks this row before it opens; locking it here too means one
        # opened concurrently is either seen below or waits, never left open on an active customer.
        Customer.objects.select_for_update().get(pk=customer.pk)
        if CustomerTermination.objects.filter(
            customer=customer, state__in=CustomerTermination.OPEN_STATES
        ).exists():
            raise Refused(
                "A termination of this customer is open; cancel it to resume the customer.",
                code=Code.INVALID_STATE,
            )
        if not _set_status(
            customer=customer, from_statuses=[Status.SUSPENDED], to_status=Status.ACTIVE
        ):
            raise Refused(
                "Only a suspended customer can be resumed; reload the page.",
                code=Code.INVALID_STATE,
            )
        record(
            by=by,
            action="customer.resumed",
            customer=customer,
            target=customer,
            before={"status": Status.SUSPENDED},
            after={"status": Status.ACTIVE},
            note=(reason or "").strip(),
        )
    return customer


@action("customer.termination_request", audit_refusals=True)
def customer_termination_request(*, customer: Customer, by: Principal, reason: str):
    """MSP: ask to terminate a customer. Suspends it now; deletes nothing until approved."""

    by = Principal.of(by)
    guards.require_msp(by, what="request a termination")
    reason = _require_reason(reason)
    try:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=customer.pk)
            if locked.status == Status.TERMINATED:
                raise Refused("This customer is already terminated.", code=Code.INVALID_STATE)
            termination = CustomerTermination.objects.create(
                customer=locked,
                reason=reason,
                previous_status=locked.status,
                requested_by=by.audit_user,
            )
            if locked.status == Status.ACTIVE:
                _set_status(
                    customer=locked, from_statuses=[Status.ACTIVE], to_status=Status.SUSPENDED
                )
                _outbox_suspended(locked)
            record(
                by=by,
                action="customer.termination_requested",
                customer=locked,
                target=termination,
                before={"status": termination.previous_status},
                after={"status": locked.status, "termination": termination.state},
                note=reason,
            )
    except IntegrityError:
        raise Refused(
            "A termination of this customer is already open; approve or cancel that one.",
            code=Code.INVALID_STATE,
        ) from None
    customer.status = locked.status
    return termination


@action("customer.termination_approve", audit_refusals=True)
def customer_termination_approve(*, termination, by: Principal):
    """MSP staff: the second approval. The requester cannot approve their own request, and an
    API key cannot approve at all (the rule is about two people)."""

    by = Principal.of(by)
    guards.require_msp(by, what="approve a termination")
    if by.user is None:
        raise Refused(
            "A termination is approved by a second staff member in the console.",
            code=Code.FORBIDDEN,
        )
    with transaction.atomic():
        locked = CustomerTermination.objects.select_for_update().get(pk=termination.pk)
        if locked.state != CustomerTermination.State.AWAITING_APPROVAL:
            raise Refused(
                f"This termination is already {locked.get_state_display().lower()}.",
                code=Code.INVALID_STATE,
            )
        if locked.requested_by_id == by.user.pk:
            raise Refused(
                "A termination needs a second staff member: someone other than the requester "
                "must approve it.",
                code=Code.FORBIDDEN,
            )
        now = timezone.now()
        locked.state = CustomerTermination.State.APPROVED
        locked.approved_by = by.user
        locked.approved_at = now
        locked.delete_after = now + timedelta(days=settings.TERMINATION_GRACE_DAYS)
        locked.save(
            update_fields=["state", "approved_by", "approved_at", "delete_after", "updated_at"]
        )
        record(
            by=by,
            action="customer.termination_approved",
            customer=locked.customer,
            target=locked,
            before={"termination": CustomerTermination.State.AWAITING_APPROVAL},
            after={"termination": locked.state, "delete_after": locked.delete_after},
        )
    return locked


@action("customer.termination_cancel", audit_refusals=True)
def customer_termination_cancel(*, termination, by: Principal, reason: str = ""):
    """MSP: withdraw an open termination; the customer goes back to its earlier status."""

    by = Principal.of(by)
    guards.require_msp(by, what="cancel a termination")
    with transaction.atomic():
        locked = CustomerTermination.objects.select_for_update().get(pk=termination.pk)
        if not locked.is_open:
            raise Refused(
                f"This termination is already {locked.get_state_display().lower()}.",
                code=Code.INVALID_STATE,
            )
        before = locked.state
        locked.state = CustomerTermination.State.CANCELLED
        locked.cancelled_by = by.audit_user
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["state", "cancelled_by", "cancelled_at", "updated_at"])
        customer = locked.customer
        if locked.previous_status == Status.ACTIVE:
            _set_status(
                customer=customer, from_statuses=[Status.SUSPENDED], to_status=Status.ACTIVE
            )
        record(
            by=by,
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

    now = now or timezone.now()
    return list(
        CustomerTermination.objects.filter(
            state=CustomerTermination.State.APPROVED,
            approved_by__isnull=False,
            delete_after__lte=now,
        ).values_list("pk", flat=True)
    )


def termination_due_get(*, termination_id: int, now: datetime) -> CustomerTermination | None:
    """The approved termination with this id if its grace period has passed, else None."""
    return (
        CustomerTermination.objects.select_related("customer")
        .filter(
            pk=termination_id,
            state=CustomerTermination.State.APPROVED,
            approved_by__isnull=False,
            delete_after__lte=now,
        )
        .first()
    )


def customer_mark_terminated(*, termination: CustomerTermination, by: Principal) -> bool:
    """Move the terminated customer to `terminated` (once; audited). A step of the
    `customer.termination_carry_out` action (provisioning.services.termination), which also
    deletes the customer's filespaces; record() refuses to run outside an action."""
    customer = termination.customer
    with transaction.atomic():
        moved = _set_status(
            customer=customer,
            from_statuses=[Status.ACTIVE, Status.SUSPENDED],
            to_status=Status.TERMINATED,
        )
        if moved:
            record(
                by=by,
                action="customer.terminated",
                customer=customer,
                target=customer,
                before={"status": termination.previous_status},
                after={"status": Status.TERMINATED},
                note=f"Termination {termination.pk} approved; grace period over.",
            )
    return moved


def termination_mark_carried_out(
    *, termination: CustomerTermination, by: Principal, now: datetime
) -> bool:
    """Mark an approved termination carried out once nothing of the customer is left to
    delete (conditional, so a second run changes nothing; audited). The last step of
    `customer.termination_carry_out` (provisioning.services.termination)."""
    due = CustomerTermination.State.APPROVED
    with transaction.atomic():
        done = CustomerTermination.objects.filter(pk=termination.pk, state=due).update(
            state=CustomerTermination.State.CARRIED_OUT, carried_out_at=now, updated_at=now
        )
        if done == 1:
            record(
                by=by,
                action="customer.termination_carried_out",
                customer=termination.customer,
                target=termination,
                before={"termination": due},
                after={"termination": CustomerTermination.State.CARRIED_OUT},
            )
    return done == 1
