"""The reconciler's query: rows whose task message may have been lost."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from provisioning.models import Filespace
from provisioning.services.common import (
    State,
    duration,
)

# --- Reconciler ------------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    creates: list[int]
    deletes: list[int]


def filespaces_needing_a_push(*, now: datetime | None = None, limit: int = 500) -> ReconcileResult:
    """Rows whose task message may have been lost: due long ago, or leased by a dead worker."""
    now = now or timezone.now()
    stale = now - duration(settings.PROVISIONING_RECONCILE_GRACE)
    creates = list(
        Filespace.objects.filter(
            Q(state=State.REQUESTED, next_poll_at__lte=stale)
            | Q(state=State.REQUESTED, next_poll_at__isnull=True)
            | Q(state=State.CREATING, lease_until__lt=now)
        )
        .order_by("next_poll_at")
        .values_list("pk", flat=True)[:limit]
    )
    deletes = list(
        Filespace.objects.filter(state=State.DELETING, next_poll_at__lte=stale)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_poll_at")
        .values_list("pk", flat=True)[:limit]
    )
    return ReconcileResult(creates=creates, deletes=deletes)
