"""Beat work for the staff console: carrying out approved customer terminations."""

import logging

from celery import shared_task

from portal.customers import lifecycle
from provisioning import services as provisioning

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def carry_out_terminations() -> dict:
    """Schedule filespace deletion for every approved termination whose grace period passed.

    Idempotent (see `provisioning.services.termination_carry_out`): a doubled or redelivered
    run only finds rows already deleting and leaves them alone.
    """
    done = 0
    waiting = 0
    for termination_id in lifecycle.terminations_due():
        if provisioning.termination_carry_out(termination_id=termination_id):
            done += 1
        else:
            waiting += 1
    if done or waiting:
        logger.info("Terminations carried out: %d, still waiting: %d", done, waiting)
    return {"carried_out": done, "waiting": waiting}
