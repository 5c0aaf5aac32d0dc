"""Reads of filespaces and their timelines, always scoped to the customer first."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from portal.customers.models import Customer
from provisioning.models import Filespace, ProvisioningEvent

BUSY_STATES = (
    Filespace.State.REQUESTED,
    Filespace.State.CREATING,
    Filespace.State.PROVISIONING,
    Filespace.State.DELETING,
)


def stuck_filter(*, now: datetime) -> Q:
    """The one meaning of "stuck" (staff console and metrics): still busy, and unchanged for
    longer than the provisioning deadline."""
    before = now - timedelta(seconds=settings.PROVISIONING_DEADLINE)
    return Q(state__in=BUSY_STATES, updated_at__lt=before)


def filespaces_for(*, customer: Customer, include_deleted: bool = False) -> QuerySet[Filespace]:
    filespaces = Filespace.objects.filter(customer=customer).select_related("plan", "order")
    if not include_deleted:
        filespaces = filespaces.exclude(state=Filespace.State.DELETED)
    return filespaces


def filespace_get_for(*, customer: Customer, pk: int) -> Filespace | None:
    """The customer's filespace with this id, or None (never another customer's)."""
    return filespaces_for(customer=customer, include_deleted=True).filter(pk=pk).first()


def filespace_timeline(*, filespace: Filespace) -> QuerySet[ProvisioningEvent]:
    return ProvisioningEvent.objects.filter(filespace=filespace).order_by("at", "id")


def filespaces_needing_attention() -> QuerySet[Filespace]:
    """Staff: failed filespaces and those stuck in a non-final state, oldest first."""
    return (
        Filespace.objects.filter(
            state__in=[
                Filespace.State.ERROR,
                Filespace.State.REQUESTED,
                Filespace.State.CREATING,
                Filespace.State.DELETING,
            ]
        )
        .select_related("customer", "plan")
        .order_by("updated_at")
    )
