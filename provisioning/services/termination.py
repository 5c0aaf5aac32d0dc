"""Carrying out an approved customer termination: the customer's filespaces are deleted.

The action sits here, on the floor that owns filespaces, and reaches down for the rest: the
customer's status and the termination row (portal.customers.lifecycle) and the orders still
awaiting approval (the `order.reject` action). Requesting, approving and cancelling a
termination stay in the lifecycle (docs/staff.md).
"""

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.actions import Principal, action
from portal.customers import lifecycle
from portal.orders.models import Order
from portal.orders.services import order_reject
from provisioning.models import Filespace
from provisioning.services.staff import filespace_delete

logger = logging.getLogger(__name__)


@action("customer.termination_carry_out")
def termination_carry_out(*, termination_id: int, now: datetime | None = None) -> bool:
    """Terminate the customer of an approved, due termination and delete its filespaces.

    True once every filespace is deleting or deleted and the termination is marked carried
    out. Safe to run twice at once: `filespace_delete` moves each row with a conditional
    UPDATE and refuses one already deleting, and the status and final state changes are
    conditional too. A filespace being created right now is left for the next run (the beat
    runs hourly).
    """
    now = now or timezone.now()
    termination = lifecycle.termination_due_get(termination_id=termination_id, now=now)
    if termination is None:
        return False
    customer = termination.customer
    system = Principal.system()
    lifecycle.customer_mark_terminated(termination=termination, by=system)
    for order in Order.objects.filter(customer=customer, state=Order.State.AWAITING_APPROVAL):
        try:
            order_reject(order=order, by=system, reason="The account was terminated.")
        except ValidationError:
            continue
    remaining = 0
    live = Filespace.objects.filter(customer=customer).exclude(
        state__in=[Filespace.State.DELETING, Filespace.State.DELETED]
    )
    for filespace in live:
        try:
            filespace_delete(
                filespace=filespace,
                by=system,
                note=f"Customer terminated (termination {termination.pk}).",
            )
        except ValidationError as exc:
            remaining += 1
            logger.info("Termination %s: filespace %s waits: %s", termination.pk, filespace.pk, exc)
    if remaining:
        return False
    return lifecycle.termination_mark_carried_out(termination=termination, by=system, now=now)
