"""Staff console actions. Each calls the owning app's service and writes one audit entry in the
same transaction, so an action and its record commit together or not at all."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from portal.audit.services import audit_record
from portal.customers.models import Customer
from portal.orders import services as orders
from portal.orders.models import Order
from portal.plans.models import Plan
from provisioning import services as provisioning
from provisioning.models import Filespace


def _lock_active_customer(customer, what: str) -> None:
    """Lock the customer row and refuse unless it is active.

    Suspension changes the status with an UPDATE of the same row, so holding this lock until
    the action commits means a suspension either happened before (and is seen) or waits.
    """
    status = (
        Customer.objects.select_for_update().values_list("status", flat=True).get(pk=customer.pk)
    )
    if status != Customer.Status.ACTIVE:
        label = Customer.Status(status).label.lower()
        raise ValidationError(f"{customer} is {label}; resume the customer before {what}.")


def order_approve_by_staff(*, order: Order, acting_user, reason: str = "") -> Order:
    """Approve an order and start provisioning; refused while the customer is not active."""
    with transaction.atomic():
        _lock_active_customer(order.customer, "approving its orders")
        decided = orders.order_approve(order=order, acting_user=acting_user, reason=reason.strip())
        audit_record(
            actor=acting_user,
            action="order.approved",
            customer=order.customer,
            target=decided,
            before={"state": Order.State.AWAITING_APPROVAL},
            after={"state": decided.state},
            note=reason.strip(),
        )
    return decided


def order_reject_by_staff(*, order: Order, acting_user, reason: str) -> Order:
    """Reject an order with a reason the customer reads."""
    with transaction.atomic():
        decided = orders.order_reject(order=order, acting_user=acting_user, reason=reason)
        audit_record(
            actor=acting_user,
            action="order.rejected",
            customer=order.customer,
            target=decided,
            before={"state": Order.State.AWAITING_APPROVAL},
            after={"state": decided.state},
            note=decided.decision_reason,
        )
    return decided


def filespace_retry_by_staff(*, filespace: Filespace, acting_user) -> Filespace:
    """Send a failed filespace round again; refused while the customer is not active, because
    a retry may create a filespace at LucidLink."""
    before = filespace.state
    with transaction.atomic():
        _lock_active_customer(filespace.customer, "retrying its filespaces")
        filespace = provisioning.filespace_retry(filespace=filespace, acting_user=acting_user)
        audit_record(
            actor=acting_user,
            action="filespace.retry",
            customer=filespace.customer,
            target=filespace,
            before={"state": before},
            after={"state": filespace.state},
        )
    return filespace


def filespace_force_fail_by_staff(*, filespace: Filespace, acting_user, reason: str) -> Filespace:
    before = filespace.state
    with transaction.atomic():
        filespace = provisioning.filespace_force_fail(
            filespace=filespace, acting_user=acting_user, reason=reason
        )
        filespace.refresh_from_db(fields=["state"])
        audit_record(
            actor=acting_user,
            action="filespace.force_failed",
            customer=filespace.customer,
            target=filespace,
            before={"state": before},
            after={"state": filespace.state},
            note=reason.strip(),
        )
    return filespace


def filespace_delete_by_staff(*, filespace: Filespace, acting_user) -> Filespace:
    before = filespace.state
    with transaction.atomic():
        filespace = provisioning.filespace_delete(filespace=filespace, acting_user=acting_user)
        audit_record(
            actor=acting_user,
            action="filespace.delete_requested",
            customer=filespace.customer,
            target=filespace,
            before={"state": before},
            after={"state": filespace.state},
        )
    return filespace


# Plan fields an audit entry records (everything staff can edit).
PLAN_FIELDS = (
    "name", "slug", "description", "storage_owner", "subscription_type", "provider",
    "allowed_regions", "currency", "price_per_unit_month", "billing_unit", "quantity_rule",
    "included_units", "minimum_monthly_charge", "requires_approval", "is_active",
)  # fmt: skip


def plan_values(plan: Plan) -> dict:
    """The audit snapshot of a plan, taken before a form changes it."""
    values = {}
    for field in PLAN_FIELDS:
        value = getattr(plan, field)
        values[field] = str(value) if isinstance(value, Decimal) else value
    return values


def plan_save_by_staff(*, plan: Plan, acting_user, before: dict | None = None) -> Plan:
    """Save a validated plan (new or edited) and record what changed."""
    created = plan.pk is None
    with transaction.atomic():
        plan.full_clean()
        plan.save()
        # Read back so the record shows the stored values (decimal places as the column keeps).
        plan.refresh_from_db()
        after = plan_values(plan)
        if created:
            audit_record(actor=acting_user, action="plan.created", target=plan, after=after)
        else:
            changed = [key for key in after if (before or {}).get(key) != after[key]]
            audit_record(
                actor=acting_user,
                action="plan.updated",
                target=plan,
                before={key: (before or {}).get(key) for key in changed},
                after={key: after[key] for key in changed},
            )
    return plan


def plan_set_active_by_staff(*, plan: Plan, acting_user, active: bool) -> Plan:
    """Withdraw a plan from sale (existing filespaces keep it) or offer it again."""
    with transaction.atomic():
        moved = Plan.objects.filter(pk=plan.pk, is_active=not active).update(is_active=active)
        if moved != 1:
            raise ValidationError(
                f"This plan is already {'offered' if active else 'withdrawn'}; reload the page."
            )
        plan.is_active = active
        audit_record(
            actor=acting_user,
            action="plan.activated" if active else "plan.deactivated",
            target=plan,
            before={"is_active": not active},
            after={"is_active": active},
        )
    return plan
