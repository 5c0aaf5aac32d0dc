"""The email that tells the customer what staff decided about an order that needed approval.

Queued (task `send_order_decision_email`) after the decision commits, so a rolled-back decision
mails nobody; a mail failure is logged and never undoes the decision.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from portal.orders.models import Order

logger = logging.getLogger(__name__)


def decision_on_commit(*, order_id: int) -> None:
    from portal.orders import tasks

    tasks.send_order_decision_email.delay_on_commit(order_id)


def recipients_for(order: Order) -> list[str]:
    """The person who placed the order, and the organisation's billing address."""
    addresses = [getattr(order.placed_by, "email", ""), order.customer.billing_email]
    return list(dict.fromkeys(address for address in addresses if address))


def send_decision(*, order_id: int) -> bool:
    order = (
        Order.objects.select_related("customer", "plan", "placed_by").filter(pk=order_id).first()
    )
    decided = (Order.State.REJECTED, Order.State.PROVISIONING, Order.State.FULFILLED)
    if order is None or order.decided_at is None or order.state not in decided:
        return False
    to = recipients_for(order)
    if not to:
        return False
    approved = order.state != Order.State.REJECTED
    context = {
        "order": order,
        "customer": order.customer,
        "approved": approved,
        "MSP_NAME": settings.MSP_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "PORTAL_BASE_URL": settings.PORTAL_BASE_URL.rstrip("/"),
    }
    verdict = "approved" if approved else "not approved"
    message = EmailMultiAlternatives(
        subject=f"[{settings.MSP_NAME}] Your order for {order.remote_name} was {verdict}",
        body=render_to_string("orders/email/decision.txt", context),
        to=to,
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not send the decision on order %s.", order_id)
        return False
    return True
