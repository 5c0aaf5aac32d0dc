import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task context in logs, task metrics and the worker's metrics server (docs/observability.md).
import portal.observability.celery_signals  # noqa: E402, F401
