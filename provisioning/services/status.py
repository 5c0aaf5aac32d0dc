"""Failure, readiness and the status sweep (poll_filespaces)."""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink
from provisioning.models import Filespace
from provisioning.services import pause
from provisioning.services.common import (
    Kind,
    State,
    duration,
    event_record,
    events_add_many,
    logger,
    poll_delay,
    retry_delay,
)

# --- Failure, readiness and polling -----------------------------------------------------------


def filespace_mark_failed(
    *,
    filespace: Filespace,
    reason: str,
    api_status: int | None = None,
    api_answer: str = "",
    actor=None,
    kind: str = Kind.FAILED,
    from_states: tuple[str, ...] | None = None,
) -> bool:
    """Move the row to `error` with a reason the customer can act on, fail the order, email."""
    from provisioning import emails

    now = timezone.now()
    states = from_states or tuple(
        s for s in State.values if s not in (State.ERROR, State.DELETED, State.ACTIVE)
    )
    with transaction.atomic():
        moved = Filespace.objects.filter(pk=filespace.pk, state__in=states).update(
            state=State.ERROR,
            last_error=reason,
            failed_at=now,
            lease_until=None,
            next_poll_at=None,
            updated_at=now,
        )
        if moved != 1:
            return False
        Order.objects.filter(pk=filespace.order_id, state=Order.State.PROVISIONING).update(
            state=Order.State.FAILED, updated_at=now
        )
        event_record(
            filespace=filespace,
            kind=kind,
            message=reason,
            api_status=api_status,
            api_answer=api_answer,
            actor=actor,
        )
        emails.send_on_commit(filespace_id=filespace.pk, kind=emails.FAILED)
    filespace.refresh_from_db()
    return True


_STATUS_TARGET = {
    "provisioned": State.PROVISIONED,
    "initialized": State.ACTIVE,
    "error": State.ERROR,
}


def _next_poll_delay(state: str, polls: int) -> float:
    """`provisioning` rows are checked often; `provisioned` ones wait on the customer's init.

    A provisioned row only changes when someone initializes it: the portal's own managed init
    activates it at once (provisioning.managed), so the poller only has to notice an init done
    outside the portal, and does so at the slow PROVISIONING_READY_POLL_INTERVAL.
    """
    if state == State.PROVISIONED:
        return float(settings.PROVISIONING_READY_POLL_INTERVAL)
    return poll_delay(polls)


def filespace_apply_remote_status(
    *, filespace: Filespace, remote: lucidlink.RemoteFilespace, now: datetime | None = None
) -> str:
    """Record one status answer for a polled row and release its poll lease; returns the state."""
    from provisioning import emails

    now = now or timezone.now()
    current = filespace.state
    target = _STATUS_TARGET.get(remote.status)
    if remote.status == "error":
        filespace_mark_failed(
            filespace=filespace,
            reason=(
                "LucidLink could not set up the filespace's storage. Our support team has "
                "been told; you can order again or ask them to retry."
            ),
            api_status=200,
            api_answer="status=error",
            from_states=Filespace.POLLED_STATES,
        )
        return State.ERROR
    if target is None or target == current:
        # Still the same: check again later, further apart each time.
        if (
            current == State.PROVISIONING
            and filespace.poll_deadline
            and now >= filespace.poll_deadline
        ):
            minutes = settings.PROVISIONING_DEADLINE // 60
            filespace_mark_failed(
                filespace=filespace,
                reason=(
                    f"LucidLink did not finish setting up the filespace within {minutes} "
                    "minutes. Our support team has been told and will look into it."
                ),
                api_answer=f"status={remote.status}",
                from_states=(State.PROVISIONING,),
            )
            return State.ERROR
        Filespace.objects.filter(pk=filespace.pk, state=current).update(
            remote_status=remote.status or "",
            polls=filespace.polls + 1,
            next_poll_at=now + duration(_next_poll_delay(current, filespace.polls + 1)),
            lease_until=None,
            updated_at=now,
        )
        return current

    with transaction.atomic():
        fields = {
            "state": target,
            "remote_status": remote.status,
            "polls": 0,
            "lease_until": None,
            "last_error": "",
            "updated_at": now,
        }
        if target == State.PROVISIONED:
            fields.update(
                provisioned_at=now, next_poll_at=now + duration(_next_poll_delay(target, 1))
            )
        else:
            fields.update(active_at=now, next_poll_at=None)
            if filespace.provisioned_at is None:
                fields["provisioned_at"] = now
        moved = Filespace.objects.filter(pk=filespace.pk, state=current).update(**fields)
        if moved != 1:
            return Filespace.objects.values_list("state", flat=True).get(pk=filespace.pk)
        Order.objects.filter(pk=filespace.order_id, state=Order.State.PROVISIONING).update(
            state=Order.State.FULFILLED, updated_at=now
        )
        if target == State.PROVISIONED:
            event_record(
                filespace=filespace,
                kind=Kind.PROVISIONED,
                message="The filespace is ready to initialize.",
                api_status=200,
                api_answer="status=provisioned",
            )
            emails.send_on_commit(filespace_id=filespace.pk, kind=emails.READY)
        else:
            event_record(
                filespace=filespace,
                kind=Kind.ACTIVE,
                message="The filespace was initialized and is in use.",
                api_status=200,
                api_answer="status=initialized",
            )
    return target


def filespaces_apply_remote_statuses(
    answers: list[tuple[Filespace, lucidlink.RemoteFilespace]],
) -> int:
    """Record a sweep batch's answers; returns how many rows changed state.

    The common answers are written for the whole batch at once: rows still `provisioning`
    (one UPDATE per poll count) and rows that became `provisioned` (one transaction: one UPDATE
    of the rows, one of their orders, one INSERT of events, one of outbox rows, one email task
    for the batch). Everything else (active, error, past the deadline) goes through
    filespace_apply_remote_status row by row. Every write is still conditional on the state
    the row was claimed in.
    """
    now = timezone.now()
    ready: list[Filespace] = []
    waiting: dict[tuple[int, str], list[int]] = defaultdict(list)
    changed = 0
    for filespace, remote in answers:
        if filespace.state == State.PROVISIONING and remote.status == "provisioned":
            ready.append(filespace)
        elif (
            filespace.state == State.PROVISIONING
            and remote.status in (None, "provisioning")
            and not (filespace.poll_deadline and now >= filespace.poll_deadline)
        ):
            waiting[(filespace.polls, remote.status or "")].append(filespace.pk)
        elif filespace_apply_remote_status(filespace=filespace, remote=remote) != filespace.state:
            changed += 1
    for (polls, status), ids in waiting.items():
        Filespace.objects.filter(pk__in=ids, state=State.PROVISIONING).update(
            remote_status=status,
            polls=polls + 1,
            next_poll_at=now + duration(_next_poll_delay(State.PROVISIONING, polls + 1)),
            lease_until=None,
            updated_at=now,
        )
    return changed + _mark_provisioned_many(ready, now=now)


def _mark_provisioned_many(filespaces: list[Filespace], *, now: datetime) -> int:
    """`provisioning` -> `provisioned` for a batch, as filespace_apply_remote_status does one."""
    from portal.actions.outbox import outbox_add_many
    from provisioning import emails
    from provisioning.models import ProvisioningEvent
    from provisioning.services.common import ONCE_PER_FILESPACE

    if not filespaces:
        return 0
    ids = [f.pk for f in filespaces]
    with transaction.atomic():
        Filespace.objects.filter(pk__in=ids, state=State.PROVISIONING).update(
            state=State.PROVISIONED,
            remote_status="provisioned",
            polls=0,
            lease_until=None,
            last_error="",
            updated_at=now,
            provisioned_at=now,
            next_poll_at=now + duration(_next_poll_delay(State.PROVISIONED, 1)),
        )
        # The rows this UPDATE moved: the ones now provisioned at exactly this moment.
        moved = set(
            Filespace.objects.filter(
                pk__in=ids, state=State.PROVISIONED, provisioned_at=now
            ).values_list("pk", flat=True)
        )
        rows = [f for f in filespaces if f.pk in moved]
        if not rows:
            return 0
        Order.objects.filter(
            pk__in=[f.order_id for f in rows], state=Order.State.PROVISIONING
        ).update(state=Order.State.FULFILLED, updated_at=now)
        events = events_add_many(
            ProvisioningEvent(
                filespace=f,
                kind=Kind.PROVISIONED,
                message="The filespace is ready to initialize.",
                api_status=200,
                api_answer="status=provisioned",
                at=now,
            )
            for f in rows
        )
        event_type = ONCE_PER_FILESPACE[Kind.PROVISIONED]
        outbox_add_many(
            [
                {
                    "event_type": event_type,
                    "customer_id": f.customer_id,
                    "subject_type": "filespace",
                    "subject_id": f.pk,
                    "facts": {"timeline_event_id": event.pk},
                    "dedupe_key": f"{event_type}:{f.pk}",
                }
                for f, event in zip(rows, events, strict=True)
            ]
        )
        emails.send_many_on_commit(filespace_ids=[f.pk for f in rows], kind=emails.READY)
    return len(rows)


def filespaces_claim_due_polls(*, limit: int, now: datetime | None = None) -> list[Filespace]:
    """Lease up to `limit` rows whose status check is due.

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED in a short transaction that only writes the
    lease, so concurrent sweeps take disjoint batches. SQLite has no SKIP LOCKED: one
    conditional UPDATE of the candidates that re-checks each, then the rows it leased are read
    back, in one transaction. Either way the statements do not grow with the batch and the lock
    or claim ends before any HTTP call.
    """
    now = now or timezone.now()
    lease_until = now + duration(settings.PROVISIONING_LEASE)
    due = Q(state__in=Filespace.POLLED_STATES, next_poll_at__lte=now, remote_id__isnull=False) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    if connection.vendor == "postgresql":
        with transaction.atomic():
            ids = list(
                Filespace.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("next_poll_at")
                .values_list("pk", flat=True)[:limit]
            )
            Filespace.objects.filter(pk__in=ids).update(lease_until=lease_until)
    else:
        # SQLite serializes writers: the UPDATE re-checks `due` for every candidate, and no other
        # writer runs between it and the read-back inside this transaction.
        with transaction.atomic():
            candidates = list(
                Filespace.objects.filter(due)
                .order_by("next_poll_at")
                .values_list("pk", flat=True)[:limit]
            )
            Filespace.objects.filter(due, pk__in=candidates).update(lease_until=lease_until)
            ids = list(
                Filespace.objects.filter(pk__in=candidates, lease_until=lease_until).values_list(
                    "pk", flat=True
                )
            )
    return list(Filespace.objects.filter(pk__in=ids).order_by("next_poll_at"))


def filespace_release_poll(*, filespace: Filespace, delay: float, note: str = "") -> None:
    now = timezone.now()
    Filespace.objects.filter(pk=filespace.pk, state=filespace.state).update(
        lease_until=None,
        next_poll_at=now + duration(delay),
        updated_at=now,
        **({"last_error": note} if note else {}),
    )


def _release_polls(filespaces: list[Filespace], *, delay: float) -> None:
    """Hand claimed rows back, due again after `delay`: one UPDATE per state, not one per row.

    Each row is still guarded by the state it was claimed in, as filespace_release_poll does.
    """
    now = timezone.now()
    ids_by_state: dict[str, list[int]] = defaultdict(list)
    for filespace in filespaces:
        ids_by_state[filespace.state].append(filespace.pk)
    for state, ids in ids_by_state.items():
        Filespace.objects.filter(pk__in=ids, state=state).update(
            lease_until=None, next_poll_at=now + duration(delay), updated_at=now
        )


def _status_waiting_out_pauses(source, filespace, batch_size, started, budget):
    """The row's status; on 429/5xx/timeout pause the API for everyone, wait, ask again.

    Raises the last Unavailable or AuthenticationFailed once the pause would outlast the budget.
    """
    failures = 0
    while True:
        try:
            return source.status_of(filespace, batch_size)
        except (lucidlink.Unavailable, lucidlink.AuthenticationFailed) as exc:
            failures += 1
            wait = retry_delay(failures, getattr(exc, "retry_after", None))
            pause.api_pause(wait)
            logger.warning("LucidLink paused for %.1f s: %s", wait, exc.message)
            if not _wait_out_pause(started, budget):
                raise


@dataclass
class SweepResult:
    checked: int = 0
    changed: int = 0
    stopped: str = ""


class _StatusSource:
    """Answers status questions for one sweep: one GET per row for a few rows, else one list.

    GET /filespaces returns every filespace of the account in one array (no pagination), so
    when many rows are due one list call replaces many single GETs. A row missing from the
    list is asked for on its own, so a 404 is always confirmed before a row is failed.
    """

    def __init__(self, client, *, threshold: int, max_age: float = 5.0) -> None:
        self.client = client
        self.threshold = threshold
        self.max_age = max_age
        self._listed: dict[str, lucidlink.RemoteFilespace] | None = None
        self._listed_at = 0.0

    def status_of(self, filespace: Filespace, batch_size: int) -> lucidlink.RemoteFilespace:
        if batch_size >= self.threshold:
            if self._listed is None or time.monotonic() - self._listed_at > self.max_age:
                # Reference: README "Endpoints", GET /filespaces.
                self._listed = {r.id: r for r in self.client.list_filespaces() if r.id}
                self._listed_at = time.monotonic()
            remote = self._listed.get(filespace.remote_id)
            if remote is not None:
                return remote
        # Reference: README "Endpoints", GET /filespaces/{id}.
        return self.client.get_filespace(filespace.remote_id)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _wait_out_pause(started: float, budget: float) -> bool:
    """Wait for the shared API pause if it ends within the budget; False if it does not."""
    remaining = pause.api_paused_for()
    if remaining <= 0:
        return True
    if time.monotonic() - started + remaining > budget:
        return False
    _sleep(remaining)
    return True


def filespaces_poll_due(
    *,
    client,
    limit: int | None = None,
    budget: float | None = None,
    fan_out: Callable[[], None] | None = None,
) -> SweepResult:
    """Check the status of every row whose poll is due, batch by batch, within a time budget.

    When a batch comes back full, more rows are probably due: `fan_out` (once per sweep) starts
    another sweep on another worker, which claims disjoint batches, so a large backlog is
    worked through in parallel rather than one row at a time. A sweep that runs out of budget
    with rows still due hands over the same way instead of leaving them for the next beat.

    A 429/5xx/timeout pauses the whole API (pause.api_pause, shared by every worker, never
    shorter than Retry-After); the sweep waits the pause out and carries on with the same row
    when it ends within the budget, and otherwise hands its rows back due at the pause's end.
    """
    limit = limit or settings.PROVISIONING_POLL_BATCH
    budget = budget if budget is not None else max(settings.PROVISIONING_POLL_INTERVAL * 0.8, 5)
    source = _StatusSource(client, threshold=settings.PROVISIONING_LIST_THRESHOLD)
    started = time.monotonic()
    result = SweepResult()
    handed_over = False
    while True:  # at least one batch, then more while the budget lasts
        if not _wait_out_pause(started, budget):
            result.stopped = "LucidLink asked the portal to wait; the next sweep carries on."
            return result
        batch = filespaces_claim_due_polls(limit=limit)
        if not batch:
            return result
        if fan_out is not None and not handed_over and len(batch) == limit:
            fan_out()
            handed_over = True
        answers: list[tuple[Filespace, lucidlink.RemoteFilespace]] = []
        for index, filespace in enumerate(batch):
            try:
                remote = _status_waiting_out_pauses(source, filespace, len(batch), started, budget)
            except lucidlink.NotFound as exc:
                filespace_mark_failed(
                    filespace=filespace,
                    reason=(
                        "The filespace no longer exists at LucidLink. Contact support if you "
                        "did not ask for it to be deleted."
                    ),
                    api_status=exc.status,
                    api_answer=exc.message,
                    from_states=Filespace.POLLED_STATES,
                )
                result.checked += 1
                result.changed += 1
                continue
            except (lucidlink.Unavailable, lucidlink.AuthenticationFailed) as exc:
                # The pause outlasts this sweep's budget: hand every claimed row back, due
                # again when the shared pause ends (never before Retry-After).
                delay = max(pause.api_paused_for(), getattr(exc, "retry_after", None) or 0)
                _release_polls(batch[index:], delay=delay or retry_delay(1))
                result.changed += filespaces_apply_remote_statuses(answers)
                result.stopped = exc.message
                logger.warning("Status sweep stopped: %s", exc.message)
                return result
            except lucidlink.Rejected as exc:
                filespace_mark_failed(
                    filespace=filespace,
                    reason=f"LucidLink refused a status check: {exc.message}",
                    api_status=exc.status,
                    api_answer=exc.message,
                    from_states=Filespace.POLLED_STATES,
                )
                result.checked += 1
                result.changed += 1
                continue
            result.checked += 1
            answers.append((filespace, remote))
        result.changed += filespaces_apply_remote_statuses(answers)
        if len(batch) < limit:
            return result
        if time.monotonic() - started >= budget:
            break
    if fan_out is not None:
        fan_out()  # out of budget with rows still due: continue on another worker now
    return result
