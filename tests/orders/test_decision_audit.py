"""A staff decision on an order is in the customer's activity log, on that order."""

import pytest

from portal.audit.models import AuditEntry
from portal.orders import services
from provisioning.services import ordering
from tests.orders.test_order_place import place

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("decide", "action", "state"),
    [
        (lambda order, staff: ordering.order_approve(order=order, by=staff, reason="ok"),
         "order.approved", "provisioning"),
        (lambda order, staff: services.order_reject(order=order, by=staff, reason="no budget"),
         "order.rejected", "rejected"),
    ],
)  # fmt: skip
def test_a_decision_is_audited_on_the_order_and_its_customer(
    decide, action, state, customer_factory, plan_factory, user_factory
):
    staff = user_factory("ops@msp.example", is_staff=True, mfa=True)
    customer = customer_factory()
    order = place(customer, plan_factory(requires_approval=True))
    decide(order, staff)
    entry = AuditEntry.objects.get(action=action)
    assert entry.actor == staff
    assert entry.customer == customer
    assert (entry.target_type.model, entry.target_id) == ("order", str(order.pk))
    assert (entry.before, entry.after) == ({"state": "awaiting_approval"}, {"state": state})
