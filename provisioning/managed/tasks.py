"""Tasks for managed filespace operations (docs/managed-operations.md). Ids in, rows are truth.

Each task keeps the name it had in provisioning/managed_tasks.py (`name=`): the beat schedule,
the queue routes (portal/queues.py) and messages already queued name them.
"""

import logging

from celery import shared_task

from provisioning import emails
from provisioning.managed import services as managed

logger = logging.getLogger(__name__)


@shared_task(
    name="provisioning.managed_tasks.initialize_filespace",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def initialize_filespace(self, init_id: int) -> None:
    """Run `lucid init-s3` for one requested initialization; a duplicate delivery is a no-op.

    Idempotent: the claim is a conditional UPDATE (one delivery runs, the others return), a
    `done` row is never claimed again, and a repeat of init-s3 after a crash is recognised by
    "already initialized" plus a successful root link with the stored password. The attempt
    bound is the row's own counter, so it also holds across re-sends by the reconciler.
    """
    init = managed.filespace_init_claim(init_id=init_id)
    if init is None:
        return
    delay = managed.filespace_init_run(init=init)
    if delay is not None:
        raise self.retry(countdown=delay + 0.5)


@shared_task(
    name="provisioning.managed_tasks.reconcile_initializations",
    acks_late=True,
    reject_on_worker_lost=True,
)
def reconcile_initializations() -> dict:
    """Periodic: re-send init tasks whose message may have been lost (safe to over-send)."""
    pending = managed.filespace_inits_needing_a_push()
    for init_id in pending:
        initialize_filespace.delay(init_id)
    if pending:
        logger.info("Re-sent %d filespace initializations.", len(pending))
    return {"inits": len(pending)}


@shared_task(
    name="provisioning.managed_tasks.send_support_email",
    acks_late=True,
    reject_on_worker_lost=True,
)
def send_support_email(filespace_id: int, what: str, reason: str) -> None:
    """Mail SUPPORT_EMAIL about a failed managed operation (queued after the failure commits)."""
    emails.send_support(filespace_id=filespace_id, what=what, reason=reason)
