"""A real Celery worker process takes a task from the real broker and writes to the database."""

import pytest

from portal.models import WorkerHeartbeat
from portal.tasks import record_worker_heartbeat
from tests.fixtures.worker import wait_until


@pytest.mark.worker
def test_a_real_worker_runs_a_task_and_the_row_appears(celery_worker_factory):
    worker = celery_worker_factory()
    record_worker_heartbeat.delay()
    heartbeat = wait_until(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith=worker.name).first()
    )
    assert heartbeat.last_seen is not None
