"""Webhook delivery through a REAL Celery worker: a 500 is retried after the backoff."""

import pytest

from portal.webhooks import signing
from portal.webhooks.models import Attempt, Delivery
from portal.webhooks.services import subscription_create
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker


def test_a_real_worker_retries_after_a_500_until_the_receiver_accepts(
    celery_worker_factory,
    receiver,
    user_factory,
    filespace_factory,
    django_capture_on_commit_callbacks,
):
    from provisioning.models import ProvisioningEvent
    from provisioning.services import event_record

    staff = user_factory(email="ops@msp.example", is_staff=True, mfa=True)
    _sub, secret = subscription_create(
        url=receiver.url, event_types=["filespace.active"], created_by=staff
    )
    worker = celery_worker_factory(env={"WEBHOOK_RETRY_BASE": "1"})
    receiver.answer(500, 503)
    filespace = filespace_factory(state="active", remote_id="fs-1")
    # A real commit (transactional test): the receiver emits and the task is sent after it.
    event_record(filespace=filespace, kind=ProvisioningEvent.Kind.ACTIVE)

    requests = receiver.wait_for(3, timeout=60)
    delivery = Delivery.objects.get()
    wait_until(lambda: Delivery.objects.get().state == "succeeded", timeout=30)
    assert [a.status_code for a in Attempt.objects.filter(delivery=delivery)] == [500, 503, 200]
    assert len({r.headers["X-Portal-Event-Id"] for r in requests}) == 1
    for request in requests:
        assert signing.verify(
            secret=secret, body=request.body, header=request.headers["X-Portal-Signature"]
        ), worker.log()
    # Backoff: the second try waits at least 1 s, the third at least 2 s.
    assert requests[1].at - requests[0].at >= 0.9
    assert requests[2].at - requests[1].at >= 1.9
