"""The delete step (delete_filespace): 204 and 404 both end as deleted."""

import contextlib

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from provisioning import lucidlink
from provisioning.models import Filespace
from provisioning.services import common
from provisioning.services.common import (
    Kind,
    State,
    duration,
    event_record,
    poll_delay,
    retry_delay,
)
from provisioning.services.create import (
    remote_matches,
)
from provisioning.services.status import (
    filespace_mark_failed,
    filespace_release_poll,
)

# --- Delete ----------------------------------------------------------------------------------


def filespace_claim_for_delete(*, filespace_id: int) -> Filespace | None:
    now = timezone.now()
    claimable = Q(state=State.DELETING, next_poll_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    claimed = Filespace.objects.filter(claimable, pk=filespace_id).update(
        lease_until=now + duration(settings.PROVISIONING_LEASE),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if claimed != 1:
        return None
    return Filespace.objects.get(pk=filespace_id)


def filespace_remove_remote(*, filespace: Filespace, client) -> bool:
    """Delete the remote filespace of a claimed `deleting` row; True once it is gone.

    204 and 404 both mean gone. A row that never learned its remote id looks the name up first,
    because a create that crashed after its POST may still have made one. Raises Unavailable,
    or Conflict while LucidLink is still provisioning it (the caller retries later).
    """
    remote_id = filespace.remote_id
    if remote_id is None:
        domain = common.domain_for(client)
        remote = client.find_filespace(f"{filespace.remote_name}.{domain.name}")
        if remote is not None and not remote_matches(
            filespace=filespace, remote=remote, domain=domain
        ):
            if remote.id is None:
                raise lucidlink.Unavailable(
                    f"LucidLink listed {filespace.remote_name} without its id; trying again later."
                )
            remote_id = remote.id
    if remote_id is not None:
        # Reference: README "Endpoints", DELETE /filespaces/{id}. A 404 means already gone.
        with contextlib.suppress(lucidlink.NotFound):
            client.delete_filespace(remote_id)
    now = timezone.now()
    with transaction.atomic():
        moved = Filespace.objects.filter(pk=filespace.pk, state=State.DELETING).update(
            state=State.DELETED,
            deleted_at=now,
            lease_until=None,
            next_poll_at=None,
            last_error="",
            updated_at=now,
        )
        if moved == 1:
            event_record(
                filespace=filespace,
                kind=Kind.DELETED,
                message="The filespace was deleted at LucidLink.",
                api_status=204,
            )
    return moved == 1


def filespace_schedule_delete_retry(
    *, filespace: Filespace, error: lucidlink.LucidLinkError
) -> float | None:
    """Release a `deleting` row for a later attempt; None when the attempts are used up."""
    retry_after = getattr(error, "retry_after", None)
    waiting_for_provisioning = isinstance(error, lucidlink.Conflict)
    if filespace.attempts >= settings.PROVISIONING_MAX_ATTEMPTS and not waiting_for_provisioning:
        filespace_mark_failed(
            filespace=filespace,
            reason=(
                f"Deleting the filespace failed after {filespace.attempts} attempts "
                f"({error.message}). Our support team has been told."
            ),
            api_status=getattr(error, "status", None),
            api_answer=error.message,
            from_states=(State.DELETING,),
        )
        return None
    delay = (
        poll_delay(min(filespace.attempts, 6))
        if waiting_for_provisioning
        else retry_delay(filespace.attempts, retry_after)
    )
    filespace_release_poll(
        filespace=filespace, delay=delay, note=f"Delete will be retried: {error.message}"
    )
    return delay
