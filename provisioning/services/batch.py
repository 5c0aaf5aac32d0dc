"""Creates in batches: many first attempts in one task, with a constant number of statements.

A create task whose own row is on its first attempt also claims up to
PROVISIONING_CREATE_BATCH - 1 other rows that are `requested`, due and never tried (one
conditional UPDATE, `SKIP LOCKED` on PostgreSQL), and then, for all of them at once:

1. one transaction: the create intent of every row (one UPDATE, only while this attempt still
   holds each claim) and their `create_sent` events (one INSERT);
2. one POST per row, in order; the first 429/5xx/timeout stops the batch (see below);
3. one transaction: every created row moves to `provisioning` with its remote id (one UPDATE)
   and its `created` event (one INSERT);
4. one status sweep is scheduled for when the first check is due
   (`filespaces_schedule_sweep`), so the rows do not wait for beat's next poll tick.

Whatever is not the plain case goes through the single-row code of create.py, unchanged: an
answer without an id, an answer that is already past `provisioning`, a 409 or another refusal.

Only first attempts are batched (attempts 0 and no `create_sent_at` before the claim). No
earlier attempt of such a row can have sent a POST, so there is nothing to look up first, as in
the single-row path. Retries (a lost answer, a timeout, a staff retry) take the single-row path
with its look-then-create and adoption.

A 429/5xx/timeout on row k: row k is released for a retry like a single create (its POST may
have reached LucidLink, so its intent stays and its next attempt looks the name up first). The
rows after k were never sent: they are handed back as they were before the claim (`requested`,
attempts and `create_sent_at` restored, due when the shared pause ends), their `create_sent`
entries removed in the same transaction (no POST was sent) and a `retry` event saying so.
Each released row gets its own create message with a countdown.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from provisioning import lucidlink
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import common, pause
from provisioning.services.common import (
    Kind,
    State,
    duration,
    logger,
    reason_for_rejection,
    reason_not_ours,
    retry_delay,
)
from provisioning.services.create import (
    create_send,
    created_fields,
    filespace_record_created,
    filespace_schedule_retry,
    remote_with_id,
)
from provisioning.services.status import filespace_mark_failed


def filespaces_claim_fresh_creates(*, limit: int, exclude: int | None = None) -> list[Filespace]:
    """Claim up to `limit` rows that are `requested`, due and never tried; one UPDATE.

    The UPDATE's own WHERE clause repeats every condition, so a row another worker moved between
    the sub-select and the write is not taken (the same conditional-UPDATE claim as
    filespace_claim_for_create). On PostgreSQL the sub-select skips rows locked by another
    claim, so two batches never wait on each other.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    table = Filespace._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    fresh = (
        "state = %s AND attempts = 0 AND create_sent_at IS NULL"
        " AND (next_poll_at IS NULL OR next_poll_at <= %s)"
    )
    # A materialized CTE: PostgreSQL would otherwise be free to run a LIMIT sub-select inside
    # `IN (...)` more than once and so take more rows than the limit.
    sql = (
        f"WITH candidates AS MATERIALIZED (SELECT id FROM {table} WHERE {fresh} "  # noqa: S608
        f"AND id <> %s ORDER BY id LIMIT %s{lock}) "
        f"UPDATE {table} SET state = %s, lease_until = %s, attempts = attempts + 1, "
        f"updated_at = %s WHERE id IN (SELECT id FROM candidates) AND {fresh} RETURNING id"
    )
    # Written the way the ORM writes them (SQLite: naive UTC text), so later comparisons agree.
    at = connection.ops.adapt_datetimefield_value(now)
    lease_until = connection.ops.adapt_datetimefield_value(
        now + duration(settings.PROVISIONING_LEASE)
    )
    params = [State.REQUESTED, at, exclude or 0, limit]
    params += [State.CREATING, lease_until, at, State.REQUESTED, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    return list(Filespace.objects.filter(pk__in=ids).order_by("pk")) if ids else []


def filespaces_renew_leases(*, ids: list[int]) -> int:
    """Extend the leases of the batch's rows this task still holds (one UPDATE)."""
    now = timezone.now()
    return Filespace.objects.filter(
        pk__in=ids, state=State.CREATING, attempts=1, lease_until__isnull=False
    ).update(lease_until=now + duration(settings.PROVISIONING_LEASE))


def filespaces_schedule_sweep(*, delay: float) -> bool:
    """Send one status sweep for `delay` seconds from now, at most one per second of due time.

    Rows created together are due together; a cache key per second keeps a burst of batches
    from sending a sweep each. Beat's sweep still runs every interval, so a lost message only
    waits for it.
    """
    from provisioning import tasks

    due = timezone.now() + duration(delay)
    key = f"provisioning:sweep-at:{int(due.timestamp())}"
    try:
        if not cache.add(key, 1, timeout=int(delay) + 60):
            return False
        tasks.poll_filespaces.apply_async(countdown=delay)
    except Exception:  # the rows are recorded; beat's sweep checks them a little later
        logger.warning("Could not schedule a status sweep; beat's sweep will check.", exc_info=True)
        return False
    return True


def _record_intents(filespaces: list[Filespace], domain) -> list[Filespace]:
    """Write every row's create intent and `create_sent` event in one transaction.

    Returns the rows this attempt still holds (the others were taken over: no POST for them).
    """
    now = timezone.now()
    ids = [f.pk for f in filespaces]
    with transaction.atomic():
        Filespace.objects.filter(
            pk__in=ids,
            state=State.CREATING,
            attempts=1,
            create_sent_at__isnull=True,
            lease_until__gte=now,
        ).update(domain_id=domain.id, domain_name=domain.name, create_sent_at=now, updated_at=now)
        held = set(
            Filespace.objects.filter(
                pk__in=ids, state=State.CREATING, create_sent_at=now
            ).values_list("pk", flat=True)
        )
        kept = [f for f in filespaces if f.pk in held]
        common.events_add_many(
            ProvisioningEvent(
                filespace=f,
                kind=Kind.CREATE_SENT,
                message=(
                    f"Attempt {f.attempts}: asking LucidLink to create "
                    f"{f.remote_name}.{domain.name}."
                ),
                at=now,
            )
            for f in kept
        )
    for filespace in kept:
        filespace.create_sent_at = now
        filespace.domain_id, filespace.domain_name = domain.id, domain.name
    return kept


def _record_created_many(created: list[tuple[Filespace, lucidlink.RemoteFilespace]]) -> int:
    """Move the plainly created rows to `provisioning` at once; returns how many moved."""
    if not created:
        return 0
    now = timezone.now()
    ids = [f.pk for f, _ in created]
    with transaction.atomic():
        Filespace.objects.filter(pk__in=ids, state=State.CREATING).update(
            state=State.PROVISIONING,
            remote_id=Case(*(When(pk=f.pk, then=Value(r.id)) for f, r in created)),
            remote_status="provisioning",
            **created_fields(now),
        )
        moved = set(
            Filespace.objects.filter(
                pk__in=ids, state=State.PROVISIONING, created_remote_at=now
            ).values_list("pk", flat=True)
        )
        common.events_add_many(
            ProvisioningEvent(
                filespace=f,
                kind=Kind.CREATED,
                message=f"LucidLink created filespace {r.id}; it is being set up.",
                api_status=201,
                api_answer=f"status={r.status}",
                at=now,
            )
            for f, r in created
            if f.pk in moved
        )
    for filespace, _ in created:
        if filespace.pk not in moved:
            logger.warning("Filespace %s left `creating` while its create ran.", filespace.pk)
    return len(moved)


def _hand_back_unsent(filespaces: list[Filespace], *, delay: float, why: str) -> list[int]:
    """Rows whose POST was never sent: back to `requested` as before the claim, due later."""
    if not filespaces:
        return []
    now = timezone.now()
    ids = [f.pk for f in filespaces]
    with transaction.atomic():
        Filespace.objects.filter(pk__in=ids, state=State.CREATING, attempts=1).update(
            state=State.REQUESTED,
            attempts=F("attempts") - 1,
            create_sent_at=None,
            lease_until=None,
            next_poll_at=now + duration(delay),
            last_error=f"LucidLink is unavailable ({why}); retrying.",
            updated_at=now,
        )
        back = set(
            Filespace.objects.filter(
                pk__in=ids, state=State.REQUESTED, next_poll_at=now + duration(delay)
            ).values_list("pk", flat=True)
        )
        # Their `create_sent` entries were written with the intents, before any POST; none was
        # sent, so the timeline must not say so. The only entries ever removed from it.
        ProvisioningEvent.objects.filter(
            filespace_id__in=back,
            kind=Kind.CREATE_SENT,
            at__in={f.create_sent_at for f in filespaces},
        ).delete()
        common.events_add_many(
            ProvisioningEvent(
                filespace=f,
                kind=Kind.RETRY,
                message=(
                    f"Not sent: LucidLink asked the portal to wait; next attempt in {delay:.1f} s."
                ),
                at=now,
            )
            for f in filespaces
            if f.pk in back
        )
    return sorted(back)


def filespaces_create_batch(*, filespaces: list[Filespace], client) -> dict:
    """Create the remote filespaces of a batch of claimed first attempts (module docstring).

    Returns the ids to re-send with their countdowns: {"retry": [(id, seconds), ...]}.
    """
    from provisioning.services.lease import leases_kept

    domain = common.domain_for(client)
    retries: list[tuple[int, float]] = []
    with leases_kept(ids=[f.pk for f in filespaces]):
        held = _record_intents(filespaces, domain)
        plain: list[tuple[Filespace, lucidlink.RemoteFilespace]] = []
        odd: list[tuple[Filespace, lucidlink.RemoteFilespace]] = []
        for index, filespace in enumerate(held):
            try:
                remote = create_send(client=client, domain=domain, filespace=filespace)
            except lucidlink.Unavailable as exc:
                if exc.retry_after:
                    pause.api_pause(exc.retry_after)
                countdown = filespace_schedule_retry(filespace=filespace, error=exc)
                if countdown is not None:
                    retries.append((filespace.pk, countdown + 0.5))
                wait = max(pause.api_paused_for(), exc.retry_after or 0) or retry_delay(1)
                for pk in _hand_back_unsent(held[index + 1 :], delay=wait, why=exc.message):
                    retries.append((pk, wait + 0.5))
                break
            except lucidlink.Conflict as exc:
                # The row's first POST: the name was taken before it was sent, never adopted.
                filespace_mark_failed(
                    filespace=filespace,
                    reason=reason_not_ours(
                        filespace=filespace,
                        detail="it existed before this order asked LucidLink for anything",
                    ),
                    api_status=exc.status,
                    api_answer=exc.message,
                    from_states=(State.CREATING,),
                )
                continue
            except lucidlink.Rejected as exc:
                filespace_mark_failed(
                    filespace=filespace,
                    reason=reason_for_rejection(filespace=filespace, error=exc),
                    api_status=exc.status,
                    api_answer=exc.message,
                    from_states=(State.CREATING,),
                )
                continue
            if remote.id is not None and remote.status in (None, "provisioning"):
                plain.append((filespace, remote))
            else:
                odd.append((filespace, remote))
        _record_created_many(plain)
        for filespace, remote in odd:
            countdown = _record_odd(
                filespace, remote, f"{filespace.remote_name}.{domain.name}", client
            )
            if countdown is not None:
                retries.append((filespace.pk, countdown + 0.5))
    if plain or odd:
        filespaces_schedule_sweep(delay=settings.PROVISIONING_FIRST_POLL_DELAY + 0.5)
    return {"retry": retries}


def _record_odd(filespace, remote, qualified_name, client) -> float | None:
    """An answer without an id or already past provisioning: the single-row recording.

    Returns the countdown of a retry when the id could not be looked up (the next attempt finds
    the filespace by name and adopts it), else None.
    """
    try:
        if remote.id is None:
            remote = remote_with_id(client, remote, qualified_name)
    except lucidlink.Unavailable as exc:
        return filespace_schedule_retry(filespace=filespace, error=exc)
    filespace_record_created(filespace=filespace, remote=remote, adopted=False)
    return None
