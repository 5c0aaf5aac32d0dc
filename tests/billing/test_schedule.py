"""Beat runs every billing job, by names that resolve to real tasks."""

import pytest
from django.conf import settings

import billing.tasks  # noqa: F401 - registers the tasks as a worker's autodiscovery would
from portal.celery import app


# A worker's start (import_default_modules) runs Celery's Django fixup, which checks the models
# and touches the connection: alone, this test needs the database like any worker would.
@pytest.mark.django_db
def test_every_billing_job_is_scheduled_under_a_registered_task_name():
    scheduled = {
        entry["task"]: entry["schedule"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"].startswith("billing.")
    }

    assert set(scheduled) == {
        "billing.tasks.collect_usage",
        "billing.tasks.rollup_usage",
        "billing.tasks.prune_usage_samples",
        "billing.tasks.ensure_usage_partitions",
        "billing.tasks.check_upstream_billing",
        "billing.tasks.run_invoices",
        "billing.payments.tasks.reconcile_payments",
        "billing.payments.tasks.run_dunning",
    }
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks
    assert all(name in app.tasks for name in scheduled)
    assert scheduled["billing.tasks.collect_usage"] == float(settings.USAGE_SAMPLE_INTERVAL_SECONDS)
