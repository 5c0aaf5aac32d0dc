"""Placement and the create step (create_filespace): claim, look-then-create or adopt, record."""

import os
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.orders.models import Order
from provisioning import lucidlink
from provisioning.models import Filespace
from provisioning.services import common
from provisioning.services.common import (
    PAUSE_AFTER_CREATE_ENV,
    FilespaceNotOurs,
    Kind,
    LeaseLost,
    State,
    duration,
    event_record,
    logger,
    reason_not_ours,
    reason_unreachable,
    retry_delay,
)
from provisioning.services.status import (
    filespace_apply_remote_status,
    filespace_mark_failed,
)

# Every create asks for this Service API version (the vendor's default; README "Validation").
CREATE_VERSION = 3

# --- Placement -------------------------------------------------------------------------------


def filespace_request(*, order: Order, actor=None, savepoint: bool = True) -> Filespace:
    """Create the requested row for an order and enqueue its create task after commit.

    Raises ValidationError on the name when another live filespace already holds it. Without a
    savepoint that error leaves the caller's transaction unusable: for a caller that then
    rolls back anyway (order_place), it saves two statements.
    """
    from provisioning import tasks

    now = timezone.now()
    plan = order.plan
    try:
        with transaction.atomic(savepoint=savepoint):
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
        lease_until=now + duration(settings.PROVISIONING_LEASE),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if claimed != 1:
        return None
    return Filespace.objects.get(pk=filespace_id)


def _intent_differences(filespace: Filespace, remote: lucidlink.RemoteFilespace) -> list[str]:
    """The fields the answer carries with a value other than the row's recorded create intent.

    Only `storage.provider` is required by the Swagger; every other field is compared only when
    the answer carries it. Absent means unknown, never different. Bucket and endpoint are compared
    only when the row asked for one (LucidLink-owned storage names its own bucket).
    """
    storage = remote.storage
    intent = [
        ("provider", storage.provider, filespace.provider),
        ("region", storage.region, filespace.region),
        ("owner", storage.owner, filespace.storage_owner),
        ("subscription type", remote.subscription_type, filespace.subscription_type),
        ("version", remote.version, CREATE_VERSION),
    ]
    if filespace.bucket:
        intent.append(("bucket", storage.bucket, filespace.bucket))
    if filespace.endpoint:
        intent.append(("endpoint", storage.endpoint, filespace.endpoint))
    return [
        f"{label} is {said}"
        for label, said, intended in intent
        if said is not None and said != intended
    ]


def remote_matches(*, filespace: Filespace, remote: lucidlink.RemoteFilespace, domain) -> str:
    """Why a remote filespace is not provably this row's, or "" when it is.

    The proof rests on what the portal recorded before it sent any POST (the create intent: the
    exact name, the domain, provider, region, owner, subscription type, bucket and endpoint,
    and `create_sent_at`, the start of the window in which a POST of this row can have reached
    LucidLink), plus what the answer does carry. A row that never recorded an intent never sent
    a POST, so a filespace holding its name cannot be its own.
    """
    if remote.name != filespace.remote_name or remote.domain_id != domain.id:
        return "it is in another domain or has another name"
    if filespace.create_sent_at is None:
        return "it existed before this order asked LucidLink for anything"
    differences = _intent_differences(filespace, remote)
    if any(item.startswith("bucket ") for item in differences):
        return "its storage is another bucket"
    return "; ".join(f"its {item}" for item in differences)


def filespace_record_intent(*, filespace: Filespace, domain) -> bool:
    """Write the create intent on the row before the POST; False if this is its first POST.

    The row already holds the name, provider, region, owner, subscription type, bucket and
    endpoint (copied at placement); this adds the domain and the moment the first POST is sent.
    Returns whether an earlier attempt had already recorded an intent (and so may have sent a
    POST whose answer was lost).
    """
    earlier = filespace.create_sent_at is not None
    now = timezone.now()
    fields = {"domain_id": domain.id, "domain_name": domain.name}
    if not earlier:
        fields["create_sent_at"] = now
    # Only while this attempt still holds the claim: a worker that stalled past its lease and
    # lost the row to another attempt must not send a second POST.
    held = Filespace.objects.filter(
        pk=filespace.pk, state=State.CREATING, attempts=filespace.attempts, lease_until__gte=now
    ).update(**fields)
    if held != 1:
        raise LeaseLost(f"Filespace {filespace.pk} is no longer claimed by this attempt.")
    filespace.create_sent_at = filespace.create_sent_at or now
    return earlier


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
    same provider and region, and the same bucket for own storage), otherwise the order fails
    with the reason.

    The look-up is skipped on a row's first attempt (`attempts == 1` right after the claim):
    the claim increments `attempts` atomically, so no earlier attempt of this row can have sent
    a POST. Anything else holding the name (made outside the portal, or by an attempt before a
    staff retry reset the count) answers the POST with 409 and goes through the same
    provably-ours check. This halves the calls of the common case.

    Raises lucidlink.Unavailable (retry later) or lucidlink.Rejected (give up); returns None
    when the row was not ours to write any more (force-failed meanwhile).
    """
    domain = common.domain_for(client)
    filespace.domain_id, filespace.domain_name = domain.id, domain.name
    qualified_name = f"{filespace.remote_name}.{domain.name}"

    remote = client.find_filespace(qualified_name) if filespace.attempts > 1 else None
    adopted = remote is not None
    if remote is None:
        with transaction.atomic():
            sent_before = filespace_record_intent(filespace=filespace, domain=domain)
            event_record(
                filespace=filespace,
                kind=Kind.CREATE_SENT,
                message=(
                    f"Attempt {filespace.attempts}: asking LucidLink to create {qualified_name}."
                ),
            )
        try:
            remote = create_send(client=client, domain=domain, filespace=filespace)
        except lucidlink.Conflict as exc:
            if not sent_before:
                # This was the row's first POST, so the name was taken before it was sent.
                detail = "it existed before this order asked LucidLink for anything"
                raise FilespaceNotOurs(
                    reason_not_ours(filespace=filespace, detail=detail), status=exc.status
                ) from exc
            remote = client.find_filespace(qualified_name)
            if remote is None:
                raise FilespaceNotOurs(
                    reason_not_ours(filespace=filespace, detail="it is not in the MSP's domain"),
                    status=exc.status,
                ) from exc
            adopted = True
        _pause_for_tests()
    if remote.id is None:
        # The id is optional in the Swagger; without it the filespace cannot be polled.
        remote = remote_with_id(client, remote, qualified_name)

    if adopted:
        mismatch = remote_matches(filespace=filespace, remote=remote, domain=domain)
        if mismatch:
            raise FilespaceNotOurs(
                reason_not_ours(filespace=filespace, detail=mismatch), status=409
            )
    if not filespace_record_created(filespace=filespace, remote=remote, adopted=adopted):
        return None
    return CreateOutcome(remote=remote, adopted=adopted)


def created_fields(now) -> dict:
    """What every move from `creating` to `provisioning` writes besides the remote's answer:
    the first check after the configured delay, the deadline, the lease released."""
    return {
        "created_remote_at": now,
        "next_poll_at": now + duration(settings.PROVISIONING_FIRST_POLL_DELAY),
        "poll_deadline": now + duration(settings.PROVISIONING_DEADLINE),
        "lease_until": None,
        "polls": 0,
        "last_error": "",
        "updated_at": now,
    }


def create_send(*, client, domain, filespace: Filespace) -> lucidlink.RemoteFilespace:
    """The POST that creates the row's filespace at LucidLink (docs/lucidlink-contract.md,
    POST /filespaces); called only after the row's intent is recorded."""
    return client.create_filespace(
        domain_id=domain.id,
        name=filespace.remote_name,
        subscription_type=filespace.subscription_type,
        owner=filespace.storage_owner,
        provider=filespace.provider,
        region=filespace.region,
        endpoint=filespace.endpoint or None,
        bucket=filespace.bucket or None,
        version=CREATE_VERSION,
    )


def remote_with_id(client, remote: lucidlink.RemoteFilespace, qualified_name: str):
    """The same filespace with its id, looked up by name; Unavailable (retry) when still absent."""
    found = client.find_filespace(qualified_name)
    if found is None or found.id is None:
        raise lucidlink.Unavailable(
            f"LucidLink did not give the id of {qualified_name}; looking it up again later."
        )
    return found


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
            remote_status=remote.status or "",
            **created_fields(now),
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
    if remote.status not in (None, "provisioning"):
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
        next_poll_at=now + duration(delay),
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
