"""The transactional outbox through a REAL worker: a crash after the commit loses no event and
delivers it once per subscription."""

import time

import pytest

from portal.actions.models import OutboxEvent
from portal.customers.lifecycle import customer_suspend
from portal.webhooks.models import Delivery, Event
from portal.webhooks.services import subscription_create
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

# Short leases and sweeps so a crashed attempt is picked up within the test's patience.
FAST = {"WEBHOOK_LEASE_SECONDS": "10", "WEBHOOK_READ_TIMEOUT": "60", "WEBHOOK_RETRY_BASE": "1"}


@pytest.fixture
def staff(user_factory):
    return user_factory(email="ops@msp.example", is_staff=True, mfa=True)


def test_an_event_whose_relay_message_was_lost_is_delivered_once_by_the_beat_sweep(
    celery_worker_factory, receiver, staff, customer_factory, monkeypatch
):
    from portal.actions import outbox

    subscription_create(url=receiver.url, event_types=["customer.suspended"], created_by=staff)
    # The process that committed dies before its after-commit message reaches the broker.
    monkeypatch.setattr(outbox, "_enqueue_relay", lambda: None)
    customer_suspend(customer=customer_factory(), by=staff, reason="Unpaid")
    assert OutboxEvent.objects.filter(relayed_at=None).count() == 1
    assert not Event.objects.exists()

    celery_worker_factory(env=FAST, beat=True)
    receiver.wait_for(1, timeout=60)
    wait_until(lambda: Delivery.objects.filter(state="succeeded").count() == 1, timeout=30)
    # Later sweeps (every 15 s) find nothing left: no second event, no second request.
    time.sleep(16)
    assert OutboxEvent.objects.filter(relayed_at=None).count() == 0
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_killing_the_worker_between_the_commit_and_the_delivery_loses_no_event(
    celery_worker_factory, receiver, staff, customer_factory
):
    subscription_create(url=receiver.url, event_types=["customer.suspended"], created_by=staff)
    # The first POST hangs, so the worker is inside the delivery when it is killed.
    receiver.plan.append((200, {}, 40.0))
    worker = celery_worker_factory(env=FAST)
    customer_suspend(customer=customer_factory(), by=staff, reason="Unpaid")  # commits

    receiver.wait_for(1, timeout=60)
    worker.kill()  # SIGKILL: no answer recorded, no ack
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.PENDING and delivery.delivered_at is None

    celery_worker_factory(env=FAST, beat=True)  # the restart, with beat's sweeps
    wait_until(lambda: Delivery.objects.get().state == Delivery.State.SUCCEEDED, timeout=120)
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1
    # The interrupted request and the one that succeeded carry the same event id, so a
    # receiver that dedupes on it processes the event once.
    assert len(receiver.requests) == 2
    assert len({r.headers["X-Portal-Event-Id"] for r in receiver.requests}) == 1
