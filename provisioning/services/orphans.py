"""The orphan sweep and the staff actions that resolve what it finds (docs/provisioning.md).

An orphan is a filespace in the MSP's domain at LucidLink that no live portal row tracks: made
behind the portal's back, left by a create whose answer was lost before this portal could prove
ownership, or still there although its row says deleted or failed. It runs up LucidLink's bill,
so the sweep raises a staff flag (OrphanFilespace) with its cost so far this period, and staff
adopt it onto a customer's order or delete it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.actions import Principal, action, guards, record
from portal.orders.models import Order
from provisioning import lucidlink
from provisioning.models import Filespace, OrphanFilespace
from provisioning.services import common
from provisioning.services.common import Kind, State, duration, event_record

logger = logging.getLogger("provisioning.orphans")
Reason = OrphanFilespace.Reason
OrphanState = OrphanFilespace.State
CENTS = Decimal(100)

# Rows whose create or delete is still in flight without a remote id: the task itself will find
# the filespace by name, so it is not an orphan.
IN_FLIGHT = (State.REQUESTED, State.CREATING, State.DELETING)
# Rows that track a filespace only in name: it should not exist any more, or the portal gave up.
GIVEN_UP = {State.DELETED: Reason.TRACKED_DELETED, State.ERROR: Reason.TRACKED_FAILED}


@dataclass
class OrphanSweepResult:
    listed: int = 0
    orphans: int = 0
    new: int = 0
    gone: int = 0
    unaddressable: int = 0


def _costs(client) -> dict[str, tuple[Decimal, str]]:
    """LucidLink's charge so far per filespace id, from the current period; {} when unreadable."""
    try:
        period = client.current_billing_period()
    except lucidlink.LucidLinkError as exc:
        logger.warning("Orphan sweep could not read the billing period: %s", exc.message)
        return {}
    return {
        item.filespace_id: (Decimal(item.amount_due) / CENTS, period.currency)
        for item in period.filespaces
    }


def _classify(remotes: list[lucidlink.RemoteFilespace]) -> dict[str, tuple[str, Filespace | None]]:
    """remote id -> (reason, the row that names it) for every listed filespace not tracked."""
    ids = [remote.id for remote in remotes]
    names = [remote.name for remote in remotes]
    by_id: dict[str, Filespace] = {
        row.remote_id: row for row in Filespace.objects.filter(remote_id__in=ids)
    }
    in_flight = set(
        Filespace.objects.filter(
            remote_name__in=names, remote_id__isnull=True, state__in=IN_FLIGHT
        ).values_list("remote_name", flat=True)
    )
    given_up_by_name: dict[str, Filespace] = {}
    for row in Filespace.objects.filter(
        remote_name__in=names, remote_id__isnull=True, state__in=list(GIVEN_UP)
    ).order_by("requested_at", "id"):
        given_up_by_name[row.remote_name] = row  # the latest order of that name wins
    found: dict[str, tuple[str, Filespace | None]] = {}
    for remote in remotes:
        row = by_id.get(remote.id)
        if row is not None and row.state not in GIVEN_UP:
            continue
        if row is None and remote.name in in_flight:
            continue
        row = row or given_up_by_name.get(remote.name)
        reason = GIVEN_UP[row.state] if row is not None else Reason.UNTRACKED
        found[remote.id] = (reason, row)
    return found


def orphans_sweep(*, client, now: datetime | None = None) -> OrphanSweepResult:
    """Compare the domain's filespaces at LucidLink with the portal's rows; flag the orphans.

    One GET /filespaces and one GET /billing/current-period per sweep. Each open flag is
    refreshed in place (last seen, cost, status); an open flag whose filespace is no longer
    listed is closed as gone. Raises lucidlink.Unavailable when the list cannot be read (the task
    retries); then nothing is changed.
    """
    now = now or timezone.now()
    domain = common.domain_for(client)
    remotes = [remote for remote in client.list_filespaces() if remote.domain_id == domain.id]
    result = OrphanSweepResult(listed=len(remotes))
    addressable = [remote for remote in remotes if remote.id]
    result.unaddressable = len(remotes) - len(addressable)
    found = _classify(addressable)
    costs = _costs(client) if found else {}
    by_id = {remote.id: remote for remote in addressable}
    with transaction.atomic():
        open_flags = {
            flag.remote_id: flag
            for flag in OrphanFilespace.objects.select_for_update().filter(
                state__in=OrphanFilespace.OPEN_STATES
            )
        }
        for remote_id, (reason, row) in found.items():
            remote = by_id[remote_id]
            cost, currency = costs.get(remote_id, (None, ""))
            used = remote.stats.used_storage if remote.stats else None
            values = {
                "remote_name": remote.name,
                "domain_name": domain.name,
                "remote_status": remote.status or "",
                "provider": remote.storage.provider,
                "region": remote.storage.region or "",
                "reason": reason,
                "tracked_as": row,
                "cost_so_far": cost,
                "cost_currency": currency,
                "used_storage": used,
                "last_seen_at": now,
            }
            flag = open_flags.get(remote_id)
            if flag is None:
                OrphanFilespace.objects.create(remote_id=remote_id, first_seen_at=now, **values)
                result.new += 1
                logger.warning("Orphan filespace at LucidLink: %s (%s).", remote.name, reason)
            else:
                OrphanFilespace.objects.filter(pk=flag.pk).update(**values)
        result.orphans = len(found)
        gone = [
            flag.pk
            for remote_id, flag in open_flags.items()
            if flag.state == OrphanState.OPEN and remote_id not in by_id
        ]
        result.gone = OrphanFilespace.objects.filter(pk__in=gone).update(
            state=OrphanState.GONE, resolved_at=now
        )
    return result


# --- Staff actions -----------------------------------------------------------------------------


def _require_staff(acting_user) -> Principal:
    """MSP staff with a second factor, or an MSP key; returns the principal."""
    by = Principal.of(acting_user)
    guards.require_msp(by, what="resolve orphan filespaces")
    return by


def _lock_open(orphan: OrphanFilespace) -> OrphanFilespace:
    locked = OrphanFilespace.objects.select_for_update().get(pk=orphan.pk)
    if locked.state != OrphanState.OPEN:
        raise ValidationError(
            f"This flag is already {locked.get_state_display().lower()}; reload the page."
        )
    return locked


def orphan_adoption_candidates(*, orphan: OrphanFilespace):
    """Failed orders whose filespace carries the orphan's exact name (a filespace has no rename)."""
    return (
        Filespace.objects.filter(remote_name=orphan.remote_name, state=State.ERROR)
        .select_related("customer", "order")
        .order_by("-requested_at")
    )


@action("orphan.adopt", audit_refusals=True)
def orphan_adopt(*, orphan: OrphanFilespace, filespace: Filespace, acting_user) -> Filespace:
    """Staff: make a failed order's filespace row track the orphan; it is then polled as usual.

    The row must carry the orphan's exact name and be failed; it takes the remote id, goes back
    to `provisioning` (the next sweep reads its status) and its order back to provisioning.
    Rows, event and audit entry are written in one transaction.
    """
    by = _require_staff(acting_user)
    now = timezone.now()
    try:
        with transaction.atomic():
            orphan = _lock_open(orphan)
            row = Filespace.objects.select_for_update().get(pk=filespace.pk)
            if row.remote_name != orphan.remote_name or row.state != State.ERROR:
                raise ValidationError(
                    f"Only a failed filespace named {orphan.remote_name} can adopt this one."
                )
            if row.remote_id not in (None, orphan.remote_id):
                raise ValidationError("That filespace already tracks another remote filespace.")
            Filespace.objects.filter(pk=row.pk).update(
                remote_id=orphan.remote_id,
                domain_name=orphan.domain_name or row.domain_name,
                state=State.PROVISIONING,
                last_error="",
                failed_at=None,
                lease_until=None,
                polls=0,
                next_poll_at=now,
                poll_deadline=now + duration(settings.PROVISIONING_DEADLINE),
                created_remote_at=row.created_remote_at or now,
                updated_at=now,
            )
            Order.objects.filter(pk=row.order_id, state=Order.State.FAILED).update(
                state=Order.State.PROVISIONING, updated_at=now
            )
            OrphanFilespace.objects.filter(pk=orphan.pk).update(
                state=OrphanState.ADOPTED, resolved_at=now, resolved_by=by.audit_user
            )
            event_record(
                filespace=row,
                kind=Kind.ADOPTED,
                message=f"Staff adopted {orphan.remote_id}, found by the orphan sweep.",
                actor=by.audit_user,
            )
            record(
                by=by,
                action="orphan.adopt",
                customer=row.customer,
                target=row,
                before={"state": row.state, "remote_id": row.remote_id},
                after={"state": State.PROVISIONING, "remote_id": orphan.remote_id},
                note=f"Orphan flag {orphan.pk} ({orphan.get_reason_display()}).",
            )
    except IntegrityError:
        raise ValidationError(
            "Another live filespace holds this name or remote id; it cannot be adopted here."
        ) from None
    row.refresh_from_db()
    return row


@action("orphan.delete", audit_refusals=True)
def orphan_delete(*, orphan: OrphanFilespace, acting_user, confirm: str) -> OrphanFilespace:
    """Staff: delete the orphan at LucidLink (a task does the call after commit), audited."""
    from provisioning import tasks

    by = _require_staff(acting_user)
    if confirm != orphan.remote_name:
        raise ValidationError(f"Type {orphan.remote_name} to confirm the deletion.")
    now = timezone.now()
    with transaction.atomic():
        orphan = _lock_open(orphan)
        OrphanFilespace.objects.filter(pk=orphan.pk).update(
            state=OrphanState.DELETING, resolved_by=by.audit_user, last_seen_at=now
        )
        record(
            by=by,
            action="orphan.delete_requested",
            customer=orphan.tracked_as.customer if orphan.tracked_as else None,
            target=orphan,
            before={"state": OrphanState.OPEN},
            after={"state": OrphanState.DELETING},
            note=f"{orphan.remote_name} ({orphan.remote_id}) at LucidLink.",
        )
        transaction.on_commit(lambda: tasks.delete_orphan.delay(orphan.pk))
    orphan.refresh_from_db()
    return orphan


def orphan_remove_remote(*, orphan_id: int, client) -> bool:
    """Task body: DELETE the orphan at LucidLink; 204 and 404 both end it as deleted.

    Raises lucidlink.Unavailable, or Conflict while LucidLink still provisions it (retry later).
    """
    orphan = OrphanFilespace.objects.filter(pk=orphan_id, state=OrphanState.DELETING).first()
    if orphan is None:
        return False
    # Reference: README "Endpoints", DELETE /filespaces/{id}; a 404 means already gone.
    with contextlib.suppress(lucidlink.NotFound):
        client.delete_filespace(orphan.remote_id)
    moved = OrphanFilespace.objects.filter(pk=orphan.pk, state=OrphanState.DELETING).update(
        state=OrphanState.DELETED, resolved_at=timezone.now()
    )
    return moved == 1


def orphans_open():
    """Staff: the open flags, newest first, with the row that names them."""
    return OrphanFilespace.objects.filter(state__in=OrphanFilespace.OPEN_STATES).select_related(
        "tracked_as__customer"
    )


@dataclass(frozen=True)
class OrphanCost:
    """The open orphans' cost so far this period, one line per currency ("" = cost unknown)."""

    currency: str
    count: int
    cost: Decimal | None


def orphans_cost_lines() -> list[OrphanCost]:
    """Staff (billing overview): the cost LucidLink charges for filespaces no customer pays for."""
    from django.db.models import Count, Sum

    rows = (
        OrphanFilespace.objects.filter(state__in=OrphanFilespace.OPEN_STATES)
        .values("cost_currency")
        .annotate(count=Count("id"), cost=Sum("cost_so_far"))
        .order_by("cost_currency")
    )
    lines = []
    for row in rows:
        currency = row["cost_currency"]
        lines.append(OrphanCost(currency, row["count"], row["cost"] if currency else None))
    return lines
