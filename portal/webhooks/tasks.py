"""Celery tasks that send webhook deliveries."""

from celery import shared_task

from portal.webhooks import services


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> None:
    """Try one delivery; on a transient failure, come back after the backoff.

    The Delivery row decides: a message for a delivery that is done, not yet due or leased by
    another worker does nothing, so doubled or early messages are harmless. Receivers may still
    see one delivery twice if a worker dies between the POST and recording it, so they dedupe on
    the X-Portal-Event-Id header.
    """
    outcome = services.delivery_attempt(delivery_id=delivery_id)
    if outcome is not None and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_due_webhooks() -> int:
    """Beat: re-send any delivery whose retry is due (a lost retry message delays, never loses)."""
    due = services.deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def relay_outbox() -> int:
    """After an action commits (and every few seconds from beat): turn its outbox rows into
    webhook events and deliveries. Idempotent, so a doubled or replayed message is harmless and
    a lost one only waits for the next sweep."""
    return services.outbox_relay()


@shared_task(acks_late=True)
def prune_webhook_history() -> int:
    """Daily: drop finished deliveries and events past their retention."""
    return services.webhook_history_prune()
