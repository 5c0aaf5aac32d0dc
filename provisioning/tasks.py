"""Provisioning tasks. Each takes ids, claims its row, calls LucidLink, records the answer.

Guarantees (docs/provisioning.md): a message may be lost, doubled or redelivered after a crash;
the work is then delayed, never lost and never done twice. `acks_late` plus
`reject_on_worker_lost` is set only on tasks whose every step is idempotent, so redelivering a
half-done message is safe.
"""

import logging

from celery import shared_task
from django.conf import settings

from provisioning import emails, lucidlink, services

# The managed operations' tasks: importing them here is how a worker's autodiscovery, which
# imports each app's `tasks` module, registers them.
from provisioning.managed import tasks as managed_tasks  # noqa: F401
from provisioning.models import Filespace
from provisioning.services import batch, pause
from provisioning.services.lease import lease_kept

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def create_filespace(self, filespace_id: int) -> None:
    """Create or adopt the remote filespace for this row; a duplicate delivery is a no-op.

    Idempotent because (1) the claim is a conditional UPDATE, so of two concurrent deliveries
    only one proceeds, and (2) the create always looks for the qualified name first, so a
    delivery after a crash between the POST and the commit adopts instead of creating again.
    The retry bound is the row's `attempts`, not Celery's counter, so it also holds across
    re-sends by the reconciler.
    """
    filespace = services.filespace_claim_for_create(filespace_id=filespace_id)
    if filespace is None:
        # Gone, past this step, held by a live lease, or waiting for its backoff.
        return
    if filespace.attempts == 1 and filespace.create_sent_at is None:
        # A first attempt: take other never-tried rows along (services/batch.py).
        others = batch.filespaces_claim_fresh_creates(
            limit=settings.PROVISIONING_CREATE_BATCH - 1, exclude=filespace.pk
        )
        if others:
            _create_batch([filespace, *others])
            return
    try:
        with lease_kept(filespace=filespace):
            outcome = services.filespace_ensure_remote(
                filespace=filespace, client=lucidlink.get_client()
            )
        if outcome is not None:
            # The first check is due then: a sweep at that moment, not at beat's next tick.
            batch.filespaces_schedule_sweep(delay=settings.PROVISIONING_FIRST_POLL_DELAY + 0.5)
    except services.LeaseLost:
        logger.warning("Filespace %s was taken over before its POST; stopping.", filespace_id)
    except lucidlink.Unavailable as exc:  # transport, timeout, 429, 5xx, unreadable answer
        if exc.retry_after:
            pause.api_pause(exc.retry_after)
        countdown = services.filespace_schedule_retry(filespace=filespace, error=exc)
        if countdown is not None:
            # A small margin keeps the redelivery after next_poll_at even with clock jitter.
            raise self.retry(exc=exc, countdown=countdown + 0.5) from None
    except lucidlink.Rejected as exc:  # other 4xx: retrying the same request cannot help
        services.filespace_mark_failed(
            filespace=filespace,
            reason=services.reason_for_rejection(filespace=filespace, error=exc),
            api_status=exc.status,
            api_answer=exc.message,
            from_states=(Filespace.State.CREATING,),
        )
    except lucidlink.LucidLinkError as exc:  # e.g. the MSP account has no domain
        logger.error("Create of filespace %s failed: %s", filespace_id, exc.message)
        services.filespace_mark_failed(
            filespace=filespace,
            reason=(
                "The MSP's LucidLink account is not ready to create filespaces. Our support "
                "team has been told and can retry your order."
            ),
            api_answer=exc.message,
            from_states=(Filespace.State.CREATING,),
        )


def _create_batch(filespaces: list[Filespace]) -> None:
    try:
        outcome = batch.filespaces_create_batch(
            filespaces=filespaces, client=lucidlink.get_client()
        )
    except lucidlink.LucidLinkError as exc:
        # e.g. the MSP account has no domain: the leases run out and the reconciler re-sends
        # each row's own task, which fails it with the reason (single-row path).
        logger.error("Create batch of %d stopped: %s", len(filespaces), exc.message)
        return
    for filespace_id, countdown in outcome["retry"]:
        create_filespace.apply_async((filespace_id,), countdown=countdown)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def poll_filespaces() -> dict:
    """Periodic sweep: check the status of every filespace whose poll is due.

    Idempotent: each row is leased before its GET and written with a conditional UPDATE, so two
    sweeps (a slow one, the next beat, or a helper started for a backlog) never check or write
    the same row at once.
    """
    result = services.filespaces_poll_due(
        client=lucidlink.get_client(), fan_out=lambda: poll_filespaces.delay()
    )
    return {"checked": result.checked, "changed": result.changed, "stopped": result.stopped}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def reconcile_filespaces() -> dict:
    """Periodic: re-send the task of any row whose message may have been lost.

    Safe to over-send: a task whose row is not claimable returns without calling LucidLink.
    """
    pending = services.filespaces_needing_a_push()
    for filespace_id in pending.creates:
        create_filespace.delay(filespace_id)
    for filespace_id in pending.deletes:
        delete_filespace.delay(filespace_id)
    if pending.creates or pending.deletes:
        logger.info(
            "Reconciler re-sent %d create and %d delete tasks.",
            len(pending.creates),
            len(pending.deletes),
        )
    return {"creates": len(pending.creates), "deletes": len(pending.deletes)}


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def delete_filespace(self, filespace_id: int) -> None:
    """Delete the remote filespace of a `deleting` row; 204 and 404 both end as deleted.

    Idempotent: DELETE of a filespace that is already gone answers 404, which counts as done.
    While LucidLink is still provisioning it (409) the task waits and tries again.
    """
    filespace = services.filespace_claim_for_delete(filespace_id=filespace_id)
    if filespace is None:
        return
    try:
        with lease_kept(filespace=filespace):
            services.filespace_remove_remote(filespace=filespace, client=lucidlink.get_client())
    except (lucidlink.Unavailable, lucidlink.Conflict) as exc:
        countdown = services.filespace_schedule_delete_retry(filespace=filespace, error=exc)
        if countdown is not None:
            raise self.retry(exc=exc, countdown=countdown + 0.5) from None
    except lucidlink.LucidLinkError as exc:
        services.filespace_mark_failed(
            filespace=filespace,
            reason=f"Deleting the filespace failed: {exc.message} Our support team has been told.",
            api_status=getattr(exc, "status", None),
            api_answer=exc.message,
            from_states=(Filespace.State.DELETING,),
        )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_orphans() -> dict:
    """Periodic: flag filespaces at LucidLink that no live row tracks (idempotent upserts)."""
    from provisioning.services import orphans

    try:
        result = orphans.orphans_sweep(client=lucidlink.get_client())
    except lucidlink.LucidLinkError as exc:
        # The next beat tries again; nothing was changed.
        logger.warning("Orphan sweep skipped: %s", exc.message)
        return {"skipped": exc.message}
    return {"listed": result.listed, "orphans": result.orphans, "new": result.new}


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=20)
def delete_orphan(self, orphan_id: int) -> None:
    """Delete a flagged orphan at LucidLink; idempotent (404 counts as done)."""
    from provisioning.services import orphans

    try:
        orphans.orphan_remove_remote(orphan_id=orphan_id, client=lucidlink.get_client())
    except (lucidlink.Unavailable, lucidlink.Conflict) as exc:
        delay = services.retry_delay(self.request.retries + 1, getattr(exc, "retry_after", None))
        raise self.retry(exc=exc, countdown=delay) from None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_filespace_email(filespace_id: int, kind: str) -> None:
    """Mail the customer that a filespace is ready or failed; a redelivery sends nothing twice.

    Sent from its own task so a slow mail server never holds up a status sweep.
    """
    emails.send(filespace_id=filespace_id, kind=kind)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_filespace_emails(filespace_ids: list[int], kind: str) -> None:
    """send_filespace_email for a batch; a redelivery skips each email already sent."""
    for filespace_id in filespace_ids:
        emails.send(filespace_id=filespace_id, kind=kind)
