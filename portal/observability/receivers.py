"""Counting from append-only rows as they are committed: the provisioning timeline and webhook
attempts are written in one place each, so their inserts are the seam to observe.

These receivers only count; they never change state or emit events (events go through the
outbox in the actions). Each observation waits for the commit, so a rolled-back write is never
counted.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save

from . import metrics

FAILURE_KINDS = {"failed": "worker", "staff_fail": "staff"}


def provisioning_event_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created:
        return
    if instance.kind == "provisioned":
        requested_at = instance.filespace.requested_at
        seconds = max(0.0, (instance.at - requested_at).total_seconds())
        transaction.on_commit(lambda: metrics.order_to_ready.observe(seconds))
    elif instance.kind in FAILURE_KINDS:
        kind = FAILURE_KINDS[instance.kind]
        transaction.on_commit(lambda: metrics.filespace_failures.labels(kind).inc())


def webhook_attempt_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created:
        return
    result = attempt_result(instance.status_code)
    transaction.on_commit(lambda: metrics.webhook_attempts.labels(result).inc())


def attempt_result(status_code: int | None) -> str:
    if status_code is None:
        return "transport_error"
    return "delivered" if 200 <= status_code < 300 else "http_error"


def connect() -> None:
    post_save.connect(
        provisioning_event_saved,
        sender="provisioning.ProvisioningEvent",
        dispatch_uid="observability-provisioning-event",
    )
    post_save.connect(
        webhook_attempt_saved, sender="webhooks.Attempt", dispatch_uid="observability-attempt"
    )
