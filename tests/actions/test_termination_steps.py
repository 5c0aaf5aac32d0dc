"""The steps of carrying out a termination (portal.customers.lifecycle), without LucidLink.

tests/staff/test_termination.py drives the whole flow through the beat and the simulator; these
pin what it does not look at: which termination counts as due, and the rows the steps write.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from portal.audit.models import AuditEntry
from portal.customers import lifecycle
from portal.customers.models import Customer
from portal.customers.termination import CustomerTermination
from provisioning.services.termination import termination_carry_out

pytestmark = pytest.mark.django_db

REQUESTED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
State = CustomerTermination.State


@pytest.fixture
def staff(user_factory):
    return (
        user_factory("alice@msp.example", is_staff=True, mfa=True),
        user_factory("bob@msp.example", is_staff=True, mfa=True),
    )


def _row(customer, staff, *, state=State.APPROVED, approved=True, delete_after=NOW):
    alice, bob = staff
    return CustomerTermination.objects.create(
        customer=customer, state=state, reason="x", previous_status="active",
        requested_by=alice, approved_by=bob if approved else None,
        approved_at=REQUESTED if approved else None, delete_after=delete_after,
    )  # fmt: skip


def test_only_this_approved_termination_past_its_grace_is_due(
    customer_factory, staff, django_assert_num_queries
):
    target = _row(customer_factory(), staff)  # due exactly now
    other_due = _row(customer_factory(), staff, delete_after=NOW - timedelta(days=1))
    carried_out = _row(customer_factory(), staff, state=State.CARRIED_OUT)
    cancelled = _row(customer_factory(), staff, state=State.CANCELLED)
    awaiting = _row(customer_factory(), staff, state=State.AWAITING_APPROVAL, approved=False)
    no_approver = _row(customer_factory(), staff, approved=False)
    not_yet = _row(customer_factory(), staff, delete_after=NOW + timedelta(seconds=1))

    with django_assert_num_queries(1):  # the customer comes with it
        found = lifecycle.termination_due_get(termination_id=target.pk, now=NOW)
        assert found == target
        assert found.customer.name == target.customer.name
    assert lifecycle.termination_due_get(termination_id=other_due.pk, now=NOW) == other_due
    for not_due in (carried_out, cancelled, awaiting, no_approver, not_yet):
        assert lifecycle.termination_due_get(termination_id=not_due.pk, now=NOW) is None
    assert sorted(lifecycle.terminations_due(now=NOW)) == sorted([target.pk, other_due.pk])


def test_carrying_out_records_the_status_change_and_the_moment_once(
    customer_factory, staff, settings, monkeypatch
):
    settings.TERMINATION_GRACE_DAYS = 7
    alice, bob = staff
    customer = customer_factory()
    bystander = _row(customer_factory(), staff)  # another customer's, due as well
    with time_machine.travel(REQUESTED, tick=False):
        termination = lifecycle.customer_termination_request(
            customer=customer, acting_user=alice, reason="contract ended"
        )
        lifecycle.customer_termination_approve(termination=termination, acting_user=bob)
    termination.refresh_from_db()
    assert termination.updated_at == REQUESTED

    assert termination_carry_out(termination_id=termination.pk, now=NOW) is True
    customer.refresh_from_db()
    termination.refresh_from_db()
    assert customer.status == Customer.Status.TERMINATED
    assert (termination.state, termination.carried_out_at) == (State.CARRIED_OUT, NOW)
    assert termination.updated_at == NOW

    bystander.refresh_from_db()
    assert (bystander.state, bystander.carried_out_at) == (State.APPROVED, None)

    terminated = AuditEntry.objects.get(action="customer.terminated")
    assert (terminated.actor, terminated.actor_label) == (None, "system")
    assert terminated.customer == customer
    assert (terminated.target_type.model, terminated.target_id) == ("customer", str(customer.pk))
    assert terminated.before == {"status": "active"}
    assert terminated.after == {"status": "terminated"}
    assert terminated.note == f"Termination {termination.pk} approved; grace period over."
    carried = AuditEntry.objects.get(action="customer.termination_carried_out")
    assert (carried.actor, carried.actor_label) == (None, "system")
    assert carried.customer == customer
    assert (carried.target_type.model, carried.target_id) == (
        "customertermination",
        str(termination.pk),
    )
    assert (carried.before, carried.after) == (
        {"termination": "approved"},
        {"termination": "carried_out"},
    )

    # A second run (the beat again, or a doubled task) finds nothing due and writes nothing.
    assert termination_carry_out(termination_id=termination.pk, now=NOW) is False
    # Nor does a run that read the termination before the first one committed: every step
    # is a conditional UPDATE.
    stale = CustomerTermination.objects.get(pk=termination.pk)
    stale.state = State.APPROVED
    monkeypatch.setattr(lifecycle, "termination_due_get", lambda **kwargs: stale)
    assert termination_carry_out(termination_id=termination.pk, now=NOW) is False
    assert AuditEntry.objects.filter(action="customer.terminated").count() == 1
    assert AuditEntry.objects.filter(action="customer.termination_carried_out").count() == 1


def test_a_termination_with_a_filespace_still_being_created_waits_for_the_next_run(
    customer_factory, staff, filespace_factory
):
    customer = customer_factory(status="suspended")
    termination = _row(customer, staff)
    busy = filespace_factory(
        customer=customer, state="creating", lease_until=NOW + timedelta(minutes=5)
    )
    with time_machine.travel(NOW, tick=False):
        assert termination_carry_out(termination_id=termination.pk, now=NOW) is False
    termination.refresh_from_db()
    busy.refresh_from_db()
    assert (termination.state, termination.carried_out_at) == (State.APPROVED, None)
    assert busy.state == "creating"
    customer.refresh_from_db()
    assert customer.status == Customer.Status.TERMINATED
