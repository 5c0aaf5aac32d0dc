"""Reads of filespaces and their timelines, always scoped to the customer first."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from portal.customers.models import Customer
from provisioning.managed.models import FilespaceInit
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
    """The customer's filespaces, newest first; deleted ones only when asked (the API's polls)."""
    filespaces = Filespace.objects.filter(customer=customer).select_related(
        "plan", "order", "managed_init"
    )
    if not include_deleted:
        filespaces = filespaces.exclude(state=Filespace.State.DELETED)
    return filespaces.order_by("-requested_at", "-id")


def filespaces_listed_for(*, customer: Customer) -> QuerySet[Filespace]:
    """As filespaces_for, for lists: the secrets no list shows stay encrypted in the database
    (decrypting the root password and the order's keys of every row cost more than rating it)."""
    return filespaces_for(customer=customer).defer(
        "root_password", "order__access_key", "order__secret_key"
    )


# What the customer must act on: a failed create, or the portal's own init-s3 that failed.
NEEDS_ATTENTION = Q(state=Filespace.State.ERROR) | Q(
    state=Filespace.State.PROVISIONED, managed_init__state=FilespaceInit.State.FAILED
)


def filespace_counts_for(*, customer: Customer) -> dict[str, int]:
    """How many (not deleted) filespaces the customer has, active, and needing attention."""
    return filespaces_for(customer=customer).aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(state=Filespace.State.ACTIVE)),
        attention=Count("pk", filter=NEEDS_ATTENTION),
    )


def attention_first(filespaces: QuerySet[Filespace]) -> QuerySet[Filespace]:
    """The filespaces annotated with `attention_rank`: 0 needs attention, 1 busy, 2 settled."""
    return filespaces.annotate(
        attention_rank=Case(
            When(NEEDS_ATTENTION, then=Value(0)),
            When(state__in=(*BUSY_STATES, Filespace.State.PROVISIONED), then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    )


def filespace_get(*, customer: Customer, pk: int) -> Filespace:
    """The customer's (not deleted) filespace with this id; 404 for any other customer's."""
    return get_object_or_404(filespaces_for(customer=customer), pk=pk)


def filespace_timeline(*, filespace: Filespace) -> QuerySet[ProvisioningEvent]:
    return ProvisioningEvent.objects.filter(filespace=filespace).order_by("at", "id")
