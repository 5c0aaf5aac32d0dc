"""Termination through a REAL Celery worker against lucidsim, Redis and PostgreSQL (skips, saying
why, without them): the beat task is registered in the worker, does nothing before the grace
period is over, and afterwards deletes the filespace at LucidLink exactly once."""

import pytest
from django.utils import timezone

from portal.customers import lifecycle
from portal.customers.models import CustomerTermination
from portal.staff import tasks as staff_tasks
from provisioning.models import Filespace
from tests.provisioning.test_real_worker import place, sim, wait_for, worker_env  # noqa: F401

pytestmark = pytest.mark.worker


def _task_runs(worker) -> int:
    return worker.log().count("portal.staff.tasks.carry_out_terminations[")


def test_a_real_worker_deletes_nothing_in_the_grace_period_and_once_after_it(
    sim,  # noqa: F811
    place,  # noqa: F811
    celery_worker_factory,
    staff_factory,
):
    worker = celery_worker_factory(env=worker_env(sim))
    filespace = place()
    wait_for(
        lambda: Filespace.objects.filter(pk=filespace.pk, remote_id__isnull=False).exists(),
        worker,
        timeout=30,
    )
    termination = lifecycle.customer_termination_request(
        customer=filespace.customer, acting_user=staff_factory("alice@msp.example"), reason="x"
    )
    lifecycle.customer_termination_approve(
        termination=termination, acting_user=staff_factory("bob@msp.example")
    )

    staff_tasks.carry_out_terminations.delay()
    wait_for(lambda: "'carried_out': 0" in worker.log(), worker, timeout=30)
    assert sim.count("deleteFilespace") == 0
    assert Filespace.objects.get(pk=filespace.pk).state != Filespace.State.DELETING

    # The grace period passes.
    CustomerTermination.objects.filter(pk=termination.pk).update(delete_after=timezone.now())
    staff_tasks.carry_out_terminations.delay()
    staff_tasks.carry_out_terminations.delay()  # a doubled beat message changes nothing
    wait_for(
        lambda: Filespace.objects.filter(pk=filespace.pk, state="deleted").exists(),
        worker,
        timeout=60,
    )
    wait_for(lambda: _task_runs(worker) >= 6, worker, timeout=30)  # received + succeeded x3
    assert sim.count("deleteFilespace") == 1
    assert CustomerTermination.objects.get(pk=termination.pk).state == "carried_out"
