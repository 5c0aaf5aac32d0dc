"""Order tasks: ids in; the order row is the truth."""

from celery import shared_task

from portal.orders import emails


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_order_decision_email(order_id: int) -> None:
    """Mail the customer that staff approved or rejected an order (queued after the decision)."""
    emails.send_decision(order_id=order_id)
