"""Filespace provisioning: the state machine's transitions, each a small service.

Tasks (provisioning/tasks.py) claim a row, call LucidLink outside any transaction, then record
the answer here with a conditional UPDATE that only succeeds if the row is still in the state
the task claimed. A row lock is never held across an HTTP call. State machine and guarantees:
docs/provisioning.md.
"""

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink
from provisioning.models import Filespace, ProvisioningEvent

logger = logging.getLogger(__name__)

State = Filespace.State
Kind = ProvisioningEvent.Kind

# Test-only hook: seconds to sleep right after a successful POST /filespaces and before the
# database records it, so a test can SIGKILL a worker inside that window.
PAUSE_AFTER_CREATE_ENV = "PROVISIONING_TEST_PAUSE_AFTER_CREATE"


def _domain_for(client) -> lucidlink.Domain:
    """The MSP's one LucidLink domain (cached by provisioning.domain)."""
    from provisioning.domain import msp_domain

    return msp_domain(client=client)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never shorter than the server's Retry-After.

    attempt 1 waits about base seconds, attempt 2 about 2*base, ... capped at the retry cap.
    Jitter takes 0-50% off the exponential part so a burst of failures does not retry in step;
    it never takes anything off Retry-After.
    """
    base = settings.PROVISIONING_RETRY_BASE
    exponential = min(settings.PROVISIONING_RETRY_CAP, base * 2 ** max(attempt - 1, 0))
    delay = exponential * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


def poll_delay(polls: int) -> float:
    """Seconds until the next status check of a row already checked `polls` times."""
    return float(
        min(
            settings.PROVISIONING_MAX_POLL_BACKOFF,
            settings.PROVISIONING_FIRST_POLL_DELAY * 2**polls,
        )
    )


def event_record(
    *,
    filespace: Filespace,
    kind: str,
    message: str = "",
    api_status: int | None = None,
    api_answer: str = "",
    actor=None,
) -> ProvisioningEvent:
    return ProvisioningEvent.objects.create(
        filespace=filespace,
        kind=kind,
        message=message[:2000],
        api_status=api_status,
        api_answer=api_answer[:300],
        actor=actor,
    )


# --- Customer-facing words for failures ---------------------------------------------------


class FilespaceNotOurs(lucidlink.Conflict):
    """The name exists at LucidLink but that filespace is provably not this row's."""


def reason_for_rejection(*, filespace: Filespace, error: lucidlink.Rejected) -> str:
    """What the customer reads when LucidLink refused the create: what happened, what to do."""
    if isinstance(error, FilespaceNotOurs):
        return error.message
    if isinstance(error, lucidlink.Unprocessable):
        return (
            f"Filespace creation is currently disabled in region {filespace.region}. "
            "Choose another region and order again."
        )
    if isinstance(error, lucidlink.Conflict):
        return reason_not_ours(filespace=filespace)
    if isinstance(error, lucidlink.AuthenticationFailed):
        return (
            "The portal could not sign in to LucidLink, so nothing was created. Our support "
            "team has been told and can retry your order once this is fixed."
        )
    return (
        f"LucidLink refused to create the filespace: {error.message} Check the order details "
        "and order again, or contact support."
    )


def reason_not_ours(*, filespace: Filespace, detail: str = "") -> str:
    extra = f" ({detail})" if detail else ""
    return (
        f"The name {filespace.remote_name} is already used by another filespace at LucidLink "
        f"that this portal did not create{extra}. Order again with a different name."
    )


def reason_unreachable(*, attempts: int) -> str:
    return (
        f"LucidLink could not be reached after {attempts} attempts, so the filespace was not "
        "created. Our support team has been told and can retry your order."
    )


# --- Placement -------------------------------------------------------------------------------


def qualified_name_preview(*, customer, name: str, client=None) -> str:
    """The final `name.domain` to show before ordering; raises ValidationError on a bad name.

    Asks LucidLink for the MSP's domain only when it is not cached (provisioning.domain), and
    raises lucidlink.LucidLinkError when that is impossible, so a page can fall back to
    showing the name alone.
    """
    from provisioning import rules

    rules.validate_filespace_name(prefix=customer.name_prefix, name=name)
    domain = _domain_for(client or lucidlink.get_client())
    return rules.qualified_name_for(prefix=customer.name_prefix, name=name, domain_name=domain.name)


def filespace_request(*, order: Order, actor=None) -> Filespace:
    """Create the requested row for an order and enqueue its create task after commit.

    Raises ValidationError on the name when another live filespace already holds it.
    """
    from provisioning import tasks

    now = timezone.now()
    plan = order.plan
    try:
        with transaction.atomic():
            filespace = Filespace.objects.create(
                customer=order.customer,
                order=order,
                plan=plan,
                remote_name=order.remote_name,
                storage_owner=plan.storage_owner,
                subscription_type=plan.subscription_type,
                provider=order.provider,
                region=order.region,
                bucket=order.bucket,
                endpoint=order.endpoint,
                state=State.REQUESTED,
                requested_at=now,
                # Due now: if the task message is lost, the reconciler re-sends it after the
                # grace period (docs/provisioning.md, "Reconciler").
                next_poll_at=now,
            )
    except IntegrityError:
        raise ValidationError(
            {"name": "This name is already taken by another filespace. Choose another name."}
        ) from None
    event_record(filespace=filespace, kind=Kind.REQUESTED, message="Order placed.", actor=actor)
    tasks.create_filespace.delay_on_commit(filespace.pk)
    return filespace


# --- Create ----------------------------------------------------------------------------------


def filespace_claim_for_create(*, filespace_id: int) -> Filespace | None:
    """Take the create lease on a row, or return None when another worker holds it.

    A conditional UPDATE is the lock: only one of two concurrent deliveries can move the row
    from `requested` (or `creating` with an expired lease) to `creating` with a fresh lease.
    A row waiting for a backoff (`next_poll_at` in the future) is not claimable, so a
    duplicate message can never call LucidLink before a Retry-After has passed.
    """
    now = timezone.now()
    due = Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    claimable = (Q(state=State.REQUESTED) & due) | Q(state=State.CREATING, lease_until__lt=now)
    claimed = Filespace.objects.filter(claimable, pk=filespace_id).update(
        state=State.CREATING,
        lease_until=now + _seconds(settings.PROVISIONING_LEASE),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if claimed != 1:
        return None
    return Filespace.objects.get(pk=filespace_id)


def _remote_matches(*, filespace: Filespace, remote: lucidlink.RemoteFilespace, domain) -> str:
    """Why a remote filespace is not provably this row's, or "" when it is."""
    if remote.name != filespace.remote_name or remote.domain_id != domain.id:
        return "it is in another domain or has another name"
    storage = remote.storage
    if storage is None:
        return "LucidLink did not say where its storage is"
    if storage.provider != filespace.provider or storage.region != filespace.region:
        return f"its storage is {storage.provider} {storage.region}"
    if filespace.bucket and (storage.bucket or "") != filespace.bucket:
        return "its storage is another bucket"
    return ""


@dataclass
class CreateOutcome:
    remote: lucidlink.RemoteFilespace
    adopted: bool


def filespace_ensure_remote(*, filespace: Filespace, client) -> CreateOutcome | None:
    """Find or create the remote filespace for a claimed row and record it.

    Idempotency: the Service API has no idempotency keys, so a retried POST cannot be told
    apart from a new one. The only safe order is look-then-create: a worker that crashed after
    its POST left a filespace with this exact name in the MSP's domain, and the next attempt
    finds and adopts it instead of creating a second one. A 409 on the POST means another
    attempt won the race; it is adopted only when it is provably ours (same name, same domain,
    same provider and region), otherwise the order fails with the reason.

    The look-up is skipped on a row's first attempt (`attempts == 1` right after the claim):
    the claim increments `attempts` atomically, so no earlier attempt of this row can have sent
    a POST. Anything else holding the name (made outside the portal, or by an attempt before a
    staff retry reset the count) answers the POST with 409 and goes through the same
    provably-ours check. This halves the calls of the common case.

    Raises lucidlink.Unavailable (retry later) or lucidlink.Rejected (give up); returns None
    when the row was not ours to write any more (force-failed meanwhile).
    """
    domain = _domain_for(client)
    filespace.domain_id, filespace.domain_name = domain.id, domain.name
    qualified_name = f"{filespace.remote_name}.{domain.name}"

    remote = client.find_filespace(qualified_name) if filespace.attempts > 1 else None
    adopted = remote is not None
    if remote is None:
        with transaction.atomic():
            Filespace.objects.filter(pk=filespace.pk).update(
                domain_id=domain.id, domain_name=domain.name
            )
            event_record(
                filespace=filespace,
                kind=Kind.CREATE_SENT,
                message=(
                    f"Attempt {filespace.attempts}: asking LucidLink to create {qualified_name}."
                ),
            )
        try:
            # Reference: README "Endpoints", POST /filespaces.
            remote = client.create_filespace(
                domain_id=domain.id,
                name=filespace.remote_name,
                subscription_type=filespace.subscription_type,
                owner=filespace.storage_owner,
                provider=filespace.provider,
                region=filespace.region,
                endpoint=filespace.endpoint or None,
                bucket=filespace.bucket or None,
            )
        except lucidlink.Conflict as exc:
            remote = client.find_filespace(qualified_name)
            if remote is None:
                raise FilespaceNotOurs(
                    reason_not_ours(filespace=filespace, detail="it is not in the MSP's domain"),
                    status=exc.status,
                ) from exc
            adopted = True
        _pause_for_tests()

    if adopted:
        mismatch = _remote_matches(filespace=filespace, remote=remote, domain=domain)
        if mismatch:
            raise FilespaceNotOurs(
                reason_not_ours(filespace=filespace, detail=mismatch), status=409
            )
    if not filespace_record_created(filespace=filespace, remote=remote, adopted=adopted):
        return None
    return CreateOutcome(remote=remote, adopted=adopted)


def _pause_for_tests() -> None:
    pause = os.environ.get(PAUSE_AFTER_CREATE_ENV)
    if pause:
        logger.warning("Pausing %ss after the create POST (%s).", pause, PAUSE_AFTER_CREATE_ENV)
        time.sleep(float(pause))


def filespace_record_created(
    *, filespace: Filespace, remote: lucidlink.RemoteFilespace, adopted: bool
) -> bool:
    """Move a claimed row to `provisioning` with its remote id; False if no longer claimed."""
    now = timezone.now()
    with transaction.atomic():
        moved = Filespace.objects.filter(pk=filespace.pk, state=State.CREATING).update(
            state=State.PROVISIONING,
            remote_id=remote.id,
            domain_id=filespace.domain_id,
            domain_name=filespace.domain_name,
            remote_status=remote.status,
            created_remote_at=now,
            next_poll_at=now + _seconds(settings.PROVISIONING_FIRST_POLL_DELAY),
            poll_deadline=now + _seconds(settings.PROVISIONING_DEADLINE),
            lease_until=None,
            polls=0,
            last_error="",
            updated_at=now,
        )
        if moved != 1:
            logger.warning("Filespace %s left `creating` while its create ran.", filespace.pk)
            return False
        event_record(
            filespace=filespace,
            kind=Kind.ADOPTED if adopted else Kind.CREATED,
            message=(
                f"Adopted the existing filespace {remote.id} left by an earlier attempt."
                if adopted
                else f"LucidLink created filespace {remote.id}; it is being set up."
            ),
            api_status=200 if adopted else 201,
            api_answer=f"status={remote.status}",
        )
    filespace.state, filespace.remote_id, filespace.polls = State.PROVISIONING, remote.id, 0
    if remote.status != "provisioning":
        filespace.refresh_from_db()
        filespace_apply_remote_status(filespace=filespace, remote=remote)
    return True


def filespace_schedule_retry(*, filespace: Filespace, error: lucidlink.Unavailable) -> float | None:
    """Release a claimed row after a transient failure; seconds to wait, or None if it failed.

    The row goes back to `requested` with `next_poll_at` at the backoff time, which the claim
    respects, so neither the retry message nor the reconciler calls LucidLink any earlier.
    """
    if filespace.attempts >= settings.PROVISIONING_MAX_ATTEMPTS:
        filespace_mark_failed(
            filespace=filespace,
            reason=reason_unreachable(attempts=filespace.attempts),
            api_status=error.status,
            api_answer=error.message,
            from_states=(State.CREATING,),
        )
        return None
    delay = retry_delay(filespace.attempts, error.retry_after)
    now = timezone.now()
    released = Filespace.objects.filter(pk=filespace.pk, state=State.CREATING).update(
        state=State.REQUESTED,
        lease_until=None,
        next_poll_at=now + _seconds(delay),
        last_error=f"LucidLink is unavailable ({error.message}); retrying.",
        updated_at=now,
    )
    if released == 1:
        event_record(
            filespace=filespace,
            kind=Kind.RETRY,
            message=f"Attempt {filespace.attempts} failed; next attempt in {delay:.1f} s.",
            api_status=error.status,
            api_answer=error.message,
        )
    return delay if released == 1 else None


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
            remote_status=remote.status,
            polls=filespace.polls + 1,
            next_poll_at=now + _seconds(poll_delay(filespace.polls + 1)),
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
            fields.update(provisioned_at=now, next_poll_at=now + _seconds(poll_delay(1)))
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


def filespaces_claim_due_polls(*, limit: int, now: datetime | None = None) -> list[Filespace]:
    """Lease up to `limit` rows whose status check is due.

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED in a short transaction that only writes the
    lease, so concurrent sweeps take disjoint batches. SQLite has no SKIP LOCKED: each row is
    claimed with its own conditional UPDATE instead. Either way the lock or claim ends before
    any HTTP call.
    """
    now = now or timezone.now()
    lease_until = now + _seconds(settings.PROVISIONING_LEASE)
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
        ids = []
        candidates = Filespace.objects.filter(due).order_by("next_poll_at")
        for pk in candidates.values_list("pk", flat=True)[:limit]:
            if Filespace.objects.filter(due, pk=pk).update(lease_until=lease_until) == 1:
                ids.append(pk)
    return list(Filespace.objects.filter(pk__in=ids).order_by("next_poll_at"))


def filespace_release_poll(*, filespace: Filespace, delay: float, note: str = "") -> None:
    now = timezone.now()
    Filespace.objects.filter(pk=filespace.pk, state=filespace.state).update(
        lease_until=None,
        next_poll_at=now + _seconds(delay),
        updated_at=now,
        **({"last_error": note} if note else {}),
    )


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
                self._listed = {r.id: r for r in self.client.list_filespaces()}
                self._listed_at = time.monotonic()
            remote = self._listed.get(filespace.remote_id)
            if remote is not None:
                return remote
        # Reference: README "Endpoints", GET /filespaces/{id}.
        return self.client.get_filespace(filespace.remote_id)


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
    """
    limit = limit or settings.PROVISIONING_POLL_BATCH
    budget = budget if budget is not None else max(settings.PROVISIONING_POLL_INTERVAL * 0.8, 5)
    source = _StatusSource(client, threshold=settings.PROVISIONING_LIST_THRESHOLD)
    started = time.monotonic()
    result = SweepResult()
    handed_over = False
    while True:  # at least one batch, then more while the budget lasts
        batch = filespaces_claim_due_polls(limit=limit)
        if not batch:
            return result
        if fan_out is not None and not handed_over and len(batch) == limit:
            fan_out()
            handed_over = True
        for index, filespace in enumerate(batch):
            try:
                remote = source.status_of(filespace, len(batch))
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
                # The whole API is down, throttling or refusing the portal: stop this sweep
                # and hand every claimed row back, due again after the backoff.
                delay = retry_delay(filespace.polls + 1, getattr(exc, "retry_after", None))
                for rest in batch[index:]:
                    filespace_release_poll(filespace=rest, delay=delay)
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
            if filespace_apply_remote_status(filespace=filespace, remote=remote) != filespace.state:
                result.changed += 1
        if len(batch) < limit:
            return result
        if time.monotonic() - started >= budget:
            break
    if fan_out is not None:
        fan_out()  # out of budget with rows still due: continue on another worker now
    return result


# --- Delete ----------------------------------------------------------------------------------


def filespace_claim_for_delete(*, filespace_id: int) -> Filespace | None:
    now = timezone.now()
    claimable = Q(state=State.DELETING, next_poll_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    claimed = Filespace.objects.filter(claimable, pk=filespace_id).update(
        lease_until=now + _seconds(settings.PROVISIONING_LEASE),
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
        domain = _domain_for(client)
        remote = client.find_filespace(f"{filespace.remote_name}.{domain.name}")
        if remote is not None and not _remote_matches(
            filespace=filespace, remote=remote, domain=domain
        ):
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


# --- Staff actions ---------------------------------------------------------------------------


def filespace_retry(*, filespace: Filespace, acting_user) -> Filespace:
    """Staff: send a failed filespace round again (create if nothing exists remotely, else poll)."""
    from provisioning import tasks

    if filespace.state != State.ERROR:
        raise ValidationError("Only a filespace in error can be retried.")
    now = timezone.now()
    if filespace.remote_id is None:
        fields = {"state": State.REQUESTED, "attempts": 0}
    else:
        fields = {
            "state": State.PROVISIONING,
            "polls": 0,
            "poll_deadline": now + _seconds(settings.PROVISIONING_DEADLINE),
        }
    try:
        with transaction.atomic():
            moved = Filespace.objects.filter(pk=filespace.pk, state=State.ERROR).update(
                **fields,
                last_error="",
                failed_at=None,
                lease_until=None,
                next_poll_at=now,
                updated_at=now,
            )
            if moved != 1:
                raise ValidationError("The filespace changed meanwhile; reload and try again.")
            Order.objects.filter(pk=filespace.order_id, state=Order.State.FAILED).update(
                state=Order.State.PROVISIONING, updated_at=now
            )
            event_record(
                filespace=filespace,
                kind=Kind.STAFF_RETRY,
                message="Retried by staff.",
                actor=acting_user,
            )
            if fields["state"] == State.REQUESTED:
                tasks.create_filespace.delay_on_commit(filespace.pk)
    except IntegrityError:
        raise ValidationError(
            "Another order has taken this filespace name since it failed; it cannot be retried."
        ) from None
    filespace.refresh_from_db()
    return filespace


def filespace_force_fail(*, filespace: Filespace, acting_user, reason: str) -> Filespace:
    """Staff: stop a stuck filespace and tell the customer why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, in words the customer will read."})
    if filespace.state in (State.ERROR, State.DELETED, State.DELETING):
        raise ValidationError(f"A filespace in state {filespace.state} cannot be failed.")
    if not filespace_mark_failed(
        filespace=filespace, reason=reason, actor=acting_user, kind=Kind.STAFF_FAIL
    ):
        raise ValidationError("The filespace changed meanwhile; reload and try again.")
    return filespace


def filespace_delete(*, filespace: Filespace, acting_user) -> Filespace:
    """Staff (or the customer, later): delete the filespace at LucidLink, then mark it deleted."""
    from provisioning import tasks

    now = timezone.now()
    if filespace.state in (State.DELETING, State.DELETED):
        raise ValidationError("This filespace is already being deleted.")
    busy = Q(state=State.CREATING, lease_until__gte=now)
    with transaction.atomic():
        moved = (
            Filespace.objects.filter(pk=filespace.pk)
            .exclude(state__in=(State.DELETING, State.DELETED))
            .exclude(busy)
            .update(
                state=State.DELETING,
                deleting_at=now,
                attempts=0,
                lease_until=None,
                next_poll_at=now,
                updated_at=now,
            )
        )
        if moved != 1:
            raise ValidationError(
                "The filespace is being created right now; try again in a few minutes."
            )
        event_record(
            filespace=filespace,
            kind=Kind.DELETE_REQUESTED,
            message="Deletion requested.",
            actor=acting_user,
        )
        tasks.delete_filespace.delay_on_commit(filespace.pk)
    filespace.refresh_from_db()
    return filespace


# --- Reconciler ------------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    creates: list[int]
    deletes: list[int]


def filespaces_needing_a_push(*, now: datetime | None = None, limit: int = 500) -> ReconcileResult:
    """Rows whose task message may have been lost: due long ago, or leased by a dead worker."""
    now = now or timezone.now()
    stale = now - _seconds(settings.PROVISIONING_RECONCILE_GRACE)
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
