"""What carrying out a termination does to the customer's orders and filespaces, and to no one
else's (`termination_carry_out`; found by mutating the action's body, docs/testing.md)."""

from datetime import UTC, datetime

import pytest

from portal.audit.models import AuditEntry
from portal.customers.models import Customer
from portal.customers.termination import CustomerTermination
from portal.orders.models import Order
from provisioning.services import termination as carrying_out
from tests.orders.test_order_place import place

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def due(customer_factory, user_factory):
    """A customer whose termination was approved and is due now (still active here, so the
    tests can place its orders first; `_suspended` then does what the request did)."""
    alice = user_factory("alice@msp.example", is_staff=True, mfa=True)
    bob = user_factory("bob@msp.example", is_staff=True, mfa=True)
    customer = customer_factory()
    termination = CustomerTermination.objects.create(
        customer=customer, state=CustomerTermination.State.APPROVED, reason="x",
        previous_status="active", requested_by=alice, approved_by=bob, approved_at=NOW,
        delete_after=NOW,
    )  # fmt: skip
    return termination


def _suspended(customer):
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.SUSPENDED)


def test_carrying_out_rejects_this_customers_waiting_orders_only_telling_them_why(
    due, customer_factory, plan_factory
):
    plan = plan_factory(requires_approval=True)
    other = customer_factory()
    others_order = place(other, plan, name="theirs", idempotency_key="k-other")
    mine = place(due.customer, plan, name="mine", idempotency_key="k-mine")
    _suspended(due.customer)

    assert carrying_out.termination_carry_out(termination_id=due.pk, now=NOW) is True

    others_order.refresh_from_db()
    mine.refresh_from_db()
    assert others_order.state == Order.State.AWAITING_APPROVAL
    assert (mine.state, mine.decision_reason) == (
        Order.State.REJECTED,
        "The account was terminated.",
    )


def test_an_order_decided_meanwhile_does_not_stop_the_others_being_rejected(
    due, plan_factory, monkeypatch
):
    plan = plan_factory(requires_approval=True)
    orders = [place(due.customer, plan, name=f"o{n}", idempotency_key=f"k{n}") for n in range(3)]
    _suspended(due.customer)
    reject = carrying_out.order_reject
    decided_meanwhile = []

    def cancelled_just_before_the_first(*, order, **kwargs):
        if not decided_meanwhile:  # the customer withdrew it after the list was read
            Order.objects.filter(pk=order.pk).update(state=Order.State.CANCELLED)
            decided_meanwhile.append(order.pk)
        return reject(order=order, **kwargs)

    monkeypatch.setattr(carrying_out, "order_reject", cancelled_just_before_the_first)
    assert carrying_out.termination_carry_out(termination_id=due.pk, now=NOW) is True

    states = dict(Order.objects.filter(customer=due.customer).values_list("pk", "state"))
    assert states == {
        order.pk: Order.State.CANCELLED if order.pk in decided_meanwhile else Order.State.REJECTED
        for order in orders
    }


def test_each_filespace_deletion_is_noted_with_the_termination(due, filespace_factory):
    filespace = filespace_factory(customer=due.customer, state="active", remote_id="fs-1")
    _suspended(due.customer)

    assert carrying_out.termination_carry_out(termination_id=due.pk, now=NOW) is True

    entry = AuditEntry.objects.get(action="filespace.delete_requested")
    assert (entry.target_id, entry.actor_label) == (str(filespace.pk), "system")
    assert entry.note == f"Customer terminated (termination {due.pk})."
