"""Deciding on filespace orders: rejecting and cancelling, and the decision both share.

Placing and approving an order write its filespace row in the same transaction, so those two
actions live on the floor that owns filespaces: provisioning/services/ordering.py.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.customers.models import MANAGER_ROLES
from portal.orders import emails
from portal.orders.models import Order


def order_decide(*, order: Order, by: Principal, state: str, reason: str) -> Order:
    """Move an order awaiting approval to `state` under its row lock (inside an action)."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.state != Order.State.AWAITING_APPROVAL:
        raise Refused(
            f"This order is already {locked.get_state_display().lower()}; reload the page.",
            code=Code.INVALID_STATE,
        )
    locked.state = state
    locked.decided_by = by.audit_user
    locked.decided_at = timezone.now()
    locked.decision_reason = reason
    locked.save(
        update_fields=["state", "decided_by", "decided_at", "decision_reason", "updated_at"]
    )
    return locked


def order_decision_record(*, by: Principal, decided: Order, action_name: str, note: str) -> None:
    """The audit entry of an approval, rejection or cancellation."""
    record(
        by=by,
        action=action_name,
        customer=decided.customer,
        target=decided,
        before={"state": Order.State.AWAITING_APPROVAL},
        after={"state": decided.state},
        note=note,
    )


@action("order.reject", audit_refusals=True)
def order_reject(*, order: Order, by: Principal, reason: str) -> Order:
    """MSP (or the system, terminating a customer): reject an order awaiting approval, with a
    reason the customer will read. Allowed whatever the customer's state."""
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="reject orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, in words the customer will read."})
    with transaction.atomic():
        decided = order_decide(order=order, by=by, state=Order.State.REJECTED, reason=reason)
        order_decision_record(by=by, decided=decided, action_name="order.rejected", note=reason)
        emails.decision_on_commit(order_id=decided.pk)
    return decided


@action("order.cancel", audit_refusals=True)
def order_cancel(*, order: Order, by: Principal) -> Order:
    """Customer owner or admin: withdraw an order still awaiting approval (allowed while
    suspended: it only takes a request back)."""
    by = Principal.of(by)
    guards.require_role(by, order.customer, MANAGER_ROLES, what="cancel orders")
    with transaction.atomic():
        decided = order_decide(order=order, by=by, state=Order.State.CANCELLED, reason="")
        order_decision_record(by=by, decided=decided, action_name="order.cancelled", note="")
    return decided
