"""Every task goes to the queue of its concern, with that queue's time limits (portal/queues.py)."""

import pytest

from portal import queues
from portal.celery import app


def registered_tasks() -> dict:
    app.autodiscover_tasks(force=True)
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def routed_queue(name: str, options: dict | None = None) -> str:
    return app.amqp.router.route(dict(options or {}), name)["queue"].name


def concern_of(name: str) -> str:
    """The queue a task's name says it belongs to, decided independently of ROUTES."""
    if "email" in name:
        return queues.EMAIL
    if name.startswith("billing."):
        return queues.BILLING
    if name.startswith("portal.webhooks."):
        return queues.WEBHOOKS
    if name.startswith(("provisioning.", "portal.staff.")):
        return queues.PROVISIONING
    return queues.DEFAULT


def test_every_registered_task_has_a_route():
    tasks = registered_tasks()
    assert "provisioning.tasks.create_filespace" in tasks
    unrouted = sorted(set(tasks) - set(queues.ROUTES))
    assert not unrouted, f"add these tasks to portal/queues.py ROUTES: {unrouted}"


def test_every_route_names_a_registered_task():
    stale = sorted(set(queues.ROUTES) - set(registered_tasks()))
    assert not stale, f"ROUTES names tasks that no longer exist: {stale}"


def test_each_task_is_sent_to_the_queue_of_its_concern(settings):
    settings.CELERY_QUEUE_PREFIX = "t1-"
    wrong = {
        name: routed_queue(name)
        for name in registered_tasks()
        if routed_queue(name) != f"t1-{concern_of(name)}"
    }
    assert not wrong


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("provisioning.tasks.create_filespace", "provisioning"),
        ("provisioning.tasks.poll_filespaces", "provisioning"),
        ("billing.tasks.run_invoices", "billing"),
        ("billing.tasks.collect_usage", "billing"),
        ("portal.webhooks.tasks.deliver_webhook", "webhooks"),
        ("portal.webhooks.tasks.relay_outbox", "webhooks"),
        ("provisioning.tasks.send_filespace_email", "email"),
        ("portal.orders.tasks.send_order_decision_email", "email"),
    ],
)
def test_the_tasks_a_customer_waits_for_never_share_a_queue_with_batches(task, queue):
    assert routed_queue(task) == queue


def test_a_task_outside_the_routes_takes_the_default_queue():
    assert routed_queue("portal.tasks.a_task_nobody_routed") == "default"


def test_an_explicit_queue_wins_over_the_route():
    """Beat sends a heartbeat to every queue by naming it, so each worker group stamps its row."""
    assert routed_queue("portal.tasks.record_worker_heartbeat", {"queue": "billing"}) == "billing"


def test_beat_sends_a_heartbeat_to_every_queue(settings):
    heartbeats = [
        entry["options"]["queue"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "portal.tasks.record_worker_heartbeat"
    ]
    assert sorted(heartbeats) == sorted(queues.all_queue_names())


def test_each_task_carries_its_queues_time_limits():
    for name, task in registered_tasks().items():
        limits = queues.LIMITS[queues.ROUTES[name]]
        assert (task.soft_time_limit, task.time_limit) == (
            limits.soft_time_limit,
            limits.time_limit,
        ), name


def test_soft_limits_leave_time_to_clean_up_before_the_hard_limit():
    for queue, limits in queues.LIMITS.items():
        assert 0 < limits.soft_time_limit < limits.time_limit, queue


def test_a_single_worker_serves_every_queue_provisioning_first():
    assert set(queues.PRIORITY) == set(queues.LIMITS) == set(queues.ROUTES.values())
    assert queues.all_queue_names("p-")[0] == "p-provisioning"
    assert queues.all_queue_names("p-")[-1] == "p-billing"
