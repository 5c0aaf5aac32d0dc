"""Turn committed state changes of other apps into webhook events, without editing their code.

Provisioning events are append-only timeline rows, so each transition is seen exactly once;
suspensions are seen through the audit entry the lifecycle service writes in the same
transaction. Each emit waits for the commit and carries a dedupe key, so a rolled-back
transaction emits nothing and a repeated signal emits nothing new.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from portal.webhooks import payloads
from portal.webhooks.models import EventType
from portal.webhooks.services import emit_on_commit
from provisioning.models import ProvisioningEvent

Kind = ProvisioningEvent.Kind

# Timeline kinds that mark a transition happening once per filespace.
ONCE_PER_FILESPACE = {
    Kind.PROVISIONED: EventType.FILESPACE_PROVISIONED,
    Kind.ACTIVE: EventType.FILESPACE_ACTIVE,
    Kind.DELETED: EventType.FILESPACE_DELETED,
}
# A filespace can fail, be retried by staff and fail again: one event per failure.
FAILURES = {Kind.FAILED, Kind.STAFF_FAIL}


@receiver(post_save, sender=Order, dispatch_uid="webhooks_order_placed")
def order_placed(sender, instance: Order, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    emit_on_commit(
        event_type=EventType.ORDER_PLACED,
        dedupe_key=f"order.placed:{instance.pk}",
        build=lambda: payloads.order_payload(instance.pk),
    )


@receiver(post_save, sender=ProvisioningEvent, dispatch_uid="webhooks_filespace_timeline")
def filespace_timeline(
    sender, instance: ProvisioningEvent, created: bool, raw: bool = False, **kwargs
) -> None:
    if not created or raw:
        return
    filespace_id, event_id = instance.filespace_id, instance.pk
    if instance.kind == Kind.APPROVED:
        order_id = instance.filespace.order_id
        emit_on_commit(
            event_type=EventType.ORDER_APPROVED,
            dedupe_key=f"order.approved:{order_id}",
            build=lambda: payloads.order_payload(order_id),
        )
    elif instance.kind in ONCE_PER_FILESPACE:
        event_type = ONCE_PER_FILESPACE[instance.kind]
        emit_on_commit(
            event_type=event_type,
            dedupe_key=f"{event_type}:{filespace_id}",
            build=lambda: payloads.filespace_payload(filespace_id, event_id),
        )
    elif instance.kind in FAILURES:
        emit_on_commit(
            event_type=EventType.FILESPACE_ERROR,
            dedupe_key=f"filespace.error:{event_id}",
            build=lambda: payloads.filespace_payload(filespace_id, event_id),
        )


@receiver(post_save, sender=AuditEntry, dispatch_uid="webhooks_customer_suspended")
def customer_suspended(
    sender, instance: AuditEntry, created: bool, raw: bool = False, **kwargs
) -> None:
    if not created or raw or instance.customer_id is None:
        return
    before = instance.before if isinstance(instance.before, dict) else {}
    after = instance.after if isinstance(instance.after, dict) else {}
    if after.get("status") != "suspended" or before.get("status") == "suspended":
        return
    customer_id, at = instance.customer_id, instance.created_at
    emit_on_commit(
        event_type=EventType.CUSTOMER_SUSPENDED,
        dedupe_key=f"customer.suspended:{instance.pk}",
        build=lambda: payloads.customer_suspended_payload(customer_id, at),
    )


def invoice_finalized(*, invoice_id: int) -> None:
    """Called by billing's invoice_finalize (its status changes by UPDATE, so no signal fires)."""
    emit_on_commit(
        event_type=EventType.INVOICE_FINALIZED,
        dedupe_key=f"invoice.finalized:{invoice_id}",
        build=lambda: payloads.invoice_payload(invoice_id),
    )
