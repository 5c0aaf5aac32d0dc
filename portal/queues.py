"""Which Celery queue each task goes to, and what a task on each queue may take.

Provisioning, billing, webhooks and email each have their own queue, served by their own
workers in production (Procfile, docker-compose.yml), so a month-end invoice run or a burst of
webhook deliveries never sits in front of the next filespace create. A single worker may still
serve every queue (a laptop): it then takes from them in PRIORITY order, provisioning first.

Every task is named in ROUTES; tests/foundation/test_queues.py fails for a registered task that
is not, so a new task never lands on a queue by accident. CELERY_QUEUE_PREFIX puts every queue
under a prefix, which is how tests and benchmarks keep their messages apart on a shared Redis.
Standard library and Django settings only: settings.py and the Celery app both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVISIONING = "provisioning"
BILLING = "billing"
WEBHOOKS = "webhooks"
EMAIL = "email"
# Housekeeping that belongs to none of the four (pruning API answers, the heartbeat).
DEFAULT = "default"


@dataclass(frozen=True)
class QueueLimits:
    soft_time_limit: int  # seconds; the task sees SoftTimeLimitExceeded and may clean up
    time_limit: int  # seconds; the pool process is killed


# A worker serving several queues takes from them in this order (Redis: BRPOP lists the keys
# in this order, with queue_order_strategy "priority"). Provisioning is what a customer waits
# for; billing is a batch that may wait.
PRIORITY = (PROVISIONING, EMAIL, WEBHOOKS, DEFAULT, BILLING)

# A create or a status sweep batch is a few HTTP calls with timeouts; a webhook is one POST with
# a 5 s connect and 10 s read timeout; an invoice run or a usage collection of every filespace is
# a long batch. A hard limit kills the pool process; the row-based sweeps pick the work up again.
LIMITS: dict[str, QueueLimits] = {
    PROVISIONING: QueueLimits(soft_time_limit=240, time_limit=300),
    BILLING: QueueLimits(soft_time_limit=3300, time_limit=3600),
    WEBHOOKS: QueueLimits(soft_time_limit=90, time_limit=120),
    EMAIL: QueueLimits(soft_time_limit=60, time_limit=90),
    DEFAULT: QueueLimits(soft_time_limit=270, time_limit=300),
}

ROUTES: dict[str, str] = {
    "provisioning.tasks.create_filespace": PROVISIONING,
    "provisioning.tasks.poll_filespaces": PROVISIONING,
    "provisioning.tasks.reconcile_filespaces": PROVISIONING,
    "provisioning.tasks.delete_filespace": PROVISIONING,
    "provisioning.tasks.sweep_orphans": PROVISIONING,
    "provisioning.tasks.delete_orphan": PROVISIONING,
    "provisioning.managed_tasks.initialize_filespace": PROVISIONING,
    "provisioning.managed_tasks.reconcile_initializations": PROVISIONING,
    # Carrying out a termination schedules filespace deletions.
    "portal.staff.tasks.carry_out_terminations": PROVISIONING,
    "billing.tasks.collect_usage": BILLING,
    "billing.tasks.rollup_usage": BILLING,
    "billing.tasks.prune_usage_samples": BILLING,
    "billing.tasks.ensure_usage_partitions": BILLING,
    "billing.tasks.run_invoices": BILLING,
    "billing.tasks.check_upstream_billing": BILLING,
    # Charges wait behind an invoice run at worst; they follow finalization, not an order.
    "billing.payments.tasks.charge_payment": BILLING,
    "billing.payments.tasks.refund_payment": BILLING,
    "billing.payments.tasks.cancel_payment_intent": BILLING,
    "billing.payments.tasks.reconcile_payments": BILLING,
    "billing.payments.tasks.run_dunning": BILLING,
    "portal.webhooks.tasks.deliver_webhook": WEBHOOKS,
    "portal.webhooks.tasks.send_due_webhooks": WEBHOOKS,
    "portal.webhooks.tasks.relay_outbox": WEBHOOKS,
    "portal.webhooks.tasks.prune_webhook_history": WEBHOOKS,
    "provisioning.tasks.send_filespace_email": EMAIL,
    "provisioning.tasks.send_filespace_emails": EMAIL,
    "provisioning.managed_tasks.send_support_email": EMAIL,
    "portal.orders.tasks.send_order_decision_email": EMAIL,
    "billing.tasks.send_invoice_email": EMAIL,
    "portal.api.tasks.prune_idempotent_responses": DEFAULT,
    # Beat also sends one to every queue by name (settings.py), so each worker group shows alive.
    "portal.tasks.record_worker_heartbeat": DEFAULT,
}


def queue_name(queue: str, prefix: str | None = None) -> str:
    """The broker's name of one of the queues above, under CELERY_QUEUE_PREFIX."""
    if prefix is None:
        from django.conf import settings

        prefix = settings.CELERY_QUEUE_PREFIX
    return f"{prefix}{queue}"


def all_queue_names(prefix: str | None = None) -> list[str]:
    """Every queue in PRIORITY order: what one worker serving all of them passes to -Q."""
    return [queue_name(queue, prefix) for queue in PRIORITY]


def route_task(name: str, args, kwargs, options, task=None, **kw) -> dict | None:
    """Celery router (CELERY_TASK_ROUTES); a task missing from ROUTES takes the default queue."""
    queue = ROUTES.get(name)
    return {"queue": queue_name(queue)} if queue else None


def annotations() -> dict[str, dict[str, int]]:
    """CELERY_TASK_ANNOTATIONS: each task gets its queue's soft and hard time limits."""
    return {
        name: {
            "soft_time_limit": LIMITS[queue].soft_time_limit,
            "time_limit": LIMITS[queue].time_limit,
        }
        for name, queue in ROUTES.items()
    }
