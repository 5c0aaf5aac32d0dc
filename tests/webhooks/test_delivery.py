"""Delivery against a real local receiver: signed, retried after a 500, logged, replayable."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.webhooks import services, signing, tasks
from portal.webhooks.models import Attempt, Delivery
from portal.webhooks.services import delivery_attempt, subscription_create, webhook_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(staff, receiver, customer_factory, no_webhook_enqueue):
    subscription, secret = subscription_create(
        url=receiver.url, event_types=["order.placed"], created_by=staff
    )
    event = webhook_emit(
        event_type="order.placed",
        customer=customer_factory(),
        dedupe_key="order.placed:1",
        data={"order": {"id": 1}},
    )
    return subscription, secret, event, Delivery.objects.get(event=event)


def _make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_the_receiver_verifies_the_signature_and_sees_retries_after_a_500(setup, receiver):
    _sub, secret, event, delivery = setup
    receiver.answer(500)
    first = delivery_attempt(delivery_id=delivery.pk)
    assert first is not None and not first.succeeded and first.retry_in > 0
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.next_attempt_at > timezone.now()
    # Not due yet: a duplicate message does nothing.
    assert delivery_attempt(delivery_id=delivery.pk) is None
    _make_due(delivery)
    second = delivery_attempt(delivery_id=delivery.pk)
    assert second.succeeded
    requests = receiver.wait_for(2)
    assert len(requests) == 2
    for request in requests:
        assert signing.verify(
            secret=secret, body=request.body, header=request.headers["X-Portal-Signature"]
        )
        assert request.headers["X-Portal-Event-Id"] == event.public_id
        assert json.loads(request.body)["type"] == "order.placed"
    assert requests[0].body == requests[1].body
    delivery.refresh_from_db()
    assert delivery.state == "succeeded" and delivery.attempts == 2
    log = list(Attempt.objects.filter(delivery=delivery).values_list("number", "status_code"))
    assert log == [(1, 500), (2, 200)]


def test_the_secret_never_travels_in_the_request(setup, receiver):
    _sub, secret, _event, delivery = setup
    delivery_attempt(delivery_id=delivery.pk)
    request = receiver.wait_for(1)[0]
    assert secret not in request.body.decode()
    assert secret not in json.dumps(request.headers)


def test_a_redirect_is_not_followed_and_fails_for_good(setup, receiver):
    _sub, _secret, _event, delivery = setup
    receiver.plan.append((302, {"Location": receiver.url + "/elsewhere"}, 0.0))
    outcome = delivery_attempt(delivery_id=delivery.pk)
    assert outcome.retry_in is None and not outcome.succeeded
    assert [r.path for r in receiver.requests] == ["/hooks"]
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_status == 302


def test_a_slow_receiver_times_out_and_is_retried(setup, receiver, settings):
    settings.WEBHOOK_READ_TIMEOUT = 1
    _sub, _secret, _event, delivery = setup
    receiver.plan.append((200, {}, 2.5))
    outcome = delivery_attempt(delivery_id=delivery.pk)
    assert outcome.retry_in is not None
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "in time" in attempt.error


def test_after_the_last_attempt_the_delivery_fails_and_can_be_replayed(
    setup, receiver, settings, staff, no_webhook_enqueue
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _sub, _secret, _event, delivery = setup
    receiver.answer(503, 503)
    delivery_attempt(delivery_id=delivery.pk)
    _make_due(delivery)
    last = delivery_attempt(delivery_id=delivery.pk)
    assert last.retry_in is None
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    services.delivery_replay(delivery=delivery, acting_user=staff)
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 0
    assert delivery_attempt(delivery_id=delivery.pk).succeeded
    numbers = list(Attempt.objects.filter(delivery=delivery).values_list("status_code", flat=True))
    assert numbers == [503, 503, 200]


def test_a_4xx_answer_is_not_retried(setup, receiver):
    _sub, _secret, _event, delivery = setup
    receiver.answer(400)
    assert delivery_attempt(delivery_id=delivery.pk).retry_in is None
    delivery.refresh_from_db()
    assert delivery.state == "failed"


def test_the_task_asks_celery_to_retry_after_the_backoff(setup, receiver, monkeypatch):
    _sub, _secret, _event, delivery = setup
    receiver.answer(500)

    class Retry(Exception):
        pass

    countdowns = []

    def fake_retry(*args, countdown=None, **kwargs):
        countdowns.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.deliver_webhook, "retry", fake_retry)
    with pytest.raises(Retry):
        tasks.deliver_webhook.run(delivery.pk)
    assert countdowns == [services.retry_delay(1)]


def test_the_sweep_resends_due_deliveries_only(setup, no_webhook_enqueue):
    _sub, _secret, _event, delivery = setup
    no_webhook_enqueue.clear()
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert tasks.send_due_webhooks() == 0
    _make_due(delivery)
    assert tasks.send_due_webhooks() == 1
    assert no_webhook_enqueue == [delivery.pk]


def test_backoff_grows_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE = 10
    settings.WEBHOOK_RETRY_CAP = 100
    assert [services.retry_delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]


def test_old_finished_deliveries_are_pruned_and_pending_ones_kept(setup):
    from portal.webhooks.models import Event

    _sub, _secret, event, delivery = setup
    later = timezone.now() + services.DELIVERY_RETENTION + timedelta(days=1)
    assert services.webhook_history_prune(now=later) == 0  # still pending
    Delivery.objects.filter(pk=delivery.pk).update(state="succeeded")
    assert services.webhook_history_prune(now=timezone.now()) == 0  # too recent
    assert services.webhook_history_prune(now=later) >= 1
    assert not Delivery.objects.exists()
    assert not Event.objects.filter(pk=event.pk).exists()
