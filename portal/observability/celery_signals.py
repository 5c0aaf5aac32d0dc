"""Celery's signals as the seam for task context, task metrics and the worker's metrics server.

Publishing: the request id and customer id of whatever enqueues a task (a web request, or a
task) travel in two message headers. Running: the task binds them with its own task id, so
every log line of the task says which request caused it. Outcomes and durations are counted
per task name. The worker's main process chooses the multiprocess directory before its pool
forks (portal.celery does that, see multiproc.prepare_celery_worker) and serves the pool's
counters on WORKER_METRICS_PORT.
"""

from __future__ import annotations

import logging
import os
import time

from celery import signals

from . import context, multiproc

log = logging.getLogger(__name__)
# `metrics` (and so prometheus_client) is imported inside the receivers, never here: every process
# imports this module through portal/__init__.py, gunicorn's master included (gunicorn.conf.py),
# and prometheus_client must not be imported before the multiprocess directory is chosen.

REQUEST_HEADER = "portal_request_id"
CUSTOMER_HEADER = "portal_customer_id"
_started: dict[str, float] = {}


@signals.before_task_publish.connect
def carry_context(headers: dict | None = None, **kwargs) -> None:
    if headers is None:
        return
    fields = context.current()
    if "request_id" in fields:
        headers.setdefault(REQUEST_HEADER, fields["request_id"])
    if "customer_id" in fields:
        headers.setdefault(CUSTOMER_HEADER, fields["customer_id"])


@signals.task_prerun.connect
def bind_task_context(task_id: str | None = None, task=None, **kwargs) -> None:
    context.clear()
    request = getattr(task, "request", None)
    context.bind(
        task_id=task_id,
        request_id=_header(request, REQUEST_HEADER),
        customer_id=_header(request, CUSTOMER_HEADER),
    )
    if task_id:
        _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def record_duration(task_id: str | None = None, task=None, **kwargs) -> None:
    from . import metrics

    started = _started.pop(task_id, None) if task_id else None
    if started is not None and task is not None:
        metrics.celery_task_duration.labels(task.name).observe(time.monotonic() - started)
    context.clear()


@signals.task_success.connect
def count_success(sender=None, **kwargs) -> None:
    _count(sender, "success")


@signals.task_failure.connect
def count_failure(sender=None, **kwargs) -> None:
    _count(sender, "failure")


@signals.task_retry.connect
def count_retry(sender=None, **kwargs) -> None:
    _count(sender, "retry")


@signals.task_rejected.connect
def count_rejected(sender=None, message=None, **kwargs) -> None:
    """A message the worker could not run (unknown task, bad body): its name is untrusted, so
    only a registered task's name becomes a label."""
    name = (getattr(message, "headers", None) or {}).get("task")
    registered = getattr(getattr(sender, "app", None), "tasks", {})
    _count_name(name if name in registered else "unregistered", "rejected")


@signals.task_revoked.connect
def count_revoked(sender=None, **kwargs) -> None:
    _count(sender, "revoked")


def _count(task, outcome: str) -> None:
    _count_name(getattr(task, "name", None) or "unknown", outcome)


def _count_name(name: str, outcome: str) -> None:
    from . import metrics

    metrics.celery_tasks.labels(name, outcome).inc()


def _header(request, name: str) -> str | None:
    if request is None:
        return None
    value = getattr(request, name, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(name)
    return value


# -- The worker process ------------------------------------------------------------------------


@signals.celeryd_init.connect
def check_metrics_directory(**kwargs) -> None:
    """portal.celery chose the directory for a `celery worker` command; say so if it could not."""
    if not os.environ.get(multiproc.ENV):
        log.warning(
            "This worker was not started by `celery ... worker`, so it has no metrics directory; "
            "the metrics of its pool processes will not be exported."
        )


@signals.worker_ready.connect
def start_metrics_server(**kwargs) -> None:
    from django.conf import settings

    from .exposition import serve_worker_metrics

    if settings.WORKER_METRICS_PORT:
        serve_worker_metrics(
            address=settings.WORKER_METRICS_ADDRESS, port=settings.WORKER_METRICS_PORT
        )


@signals.worker_process_shutdown.connect
def forget_pool_process(pid: int | None = None, **kwargs) -> None:
    """Let live-summed values of a finished pool process go (its counters stay counted)."""
    if os.environ.get(multiproc.ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
