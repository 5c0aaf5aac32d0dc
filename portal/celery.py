import os
import sys

from celery import Celery

from portal.observability import multiproc

# Before Celery imports any task (and with them prometheus_client), so that the pool's
# processes write their metrics where the worker's metrics server reads them.
if multiproc.is_celery_worker(sys.argv):
    multiproc.prepare_celery_worker()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task context in logs, task metrics and the worker's metrics server (docs/observability.md).
import portal.observability.celery_signals  # noqa: E402, F401
