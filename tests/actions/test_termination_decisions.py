"""Cancelling and approving a termination: who may, what is recorded, the refusals of a closed
one (`customer_termination_cancel`, `_approve`; found by mutating their bodies, docs/testing.md)."""

from datetime import UTC, datetime

import pytest
import time_machine

from portal.actions import Code, Refused
from portal.audit.models import AuditEntry
from portal.customers import lifecycle
from portal.customers.termination import CustomerTermination

pytestmark = pytest.mark.django_db

CANCELLED_AT = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)


@pytest.fixture
def staff(user_factory):
    return (
        user_factory("alice@msp.example", is_staff=True, mfa=True),
        user_factory("bob@msp.example", is_staff=True, mfa=True),
    )


def assert_audited_on(entry, *, actor, customer, termination) -> None:
    assert (entry.actor, entry.customer) == (actor, customer)
    assert (entry.target_type.model, entry.target_id) == (
        "customertermination",
        str(termination.pk),
    )


def test_cancelling_records_who_when_and_what_changed(customer_factory, staff):
    alice, bob = staff
    customer = customer_factory()
    termination = lifecycle.customer_termination_request(
        customer=customer, by=alice, reason="contract ended"
    )
    with time_machine.travel(CANCELLED_AT, tick=False):
        lifecycle.customer_termination_cancel(
            termination=termination, by=bob, reason="  they renewed "
        )

    termination.refresh_from_db()
    assert (termination.state, termination.cancelled_by, termination.cancelled_at) == (
        CustomerTermination.State.CANCELLED,
        bob,
        CANCELLED_AT,
    )
    entry = AuditEntry.objects.get(action="customer.termination_cancelled")
    assert_audited_on(entry, actor=bob, customer=customer, termination=termination)
    assert entry.before == {"termination": "awaiting_approval"}
    assert entry.after == {"termination": "cancelled", "status": "active"}
    assert entry.note == "they renewed"


def test_a_cancellation_without_a_reason_notes_nothing(customer_factory, staff):
    alice, bob = staff
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), by=alice, reason="x"
    )
    lifecycle.customer_termination_cancel(termination=termination, by=bob)
    assert AuditEntry.objects.get(action="customer.termination_cancelled").note == ""


def test_a_closed_termination_is_refused_as_a_conflict_naming_its_state(customer_factory, staff):
    alice, bob = staff
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), by=alice, reason="x"
    )
    lifecycle.customer_termination_cancel(termination=termination, by=bob)
    with pytest.raises(Refused) as refused:
        lifecycle.customer_termination_cancel(termination=termination, by=alice)
    assert refused.value.code == Code.INVALID_STATE
    assert refused.value.message_text == "This termination is already cancelled."


def test_only_msp_staff_may_cancel_and_are_told_so(customer_factory, staff, user_factory):
    alice, _bob = staff
    customer = customer_factory()
    termination = lifecycle.customer_termination_request(customer=customer, by=alice, reason="x")
    with pytest.raises(Refused) as refused:
        lifecycle.customer_termination_cancel(
            termination=termination, by=user_factory("someone@example.com")
        )
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.message_text == "Only Example MSP staff can cancel a termination."
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.AWAITING_APPROVAL


# --- approving (`customer_termination_approve`) -----------------------------------------------

APPROVED_AT = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)


def test_an_approval_is_audited_with_what_it_changed_and_the_deletion_date(
    customer_factory, staff, settings
):
    settings.TERMINATION_GRACE_DAYS = 7
    alice, bob = staff
    customer = customer_factory()
    termination = lifecycle.customer_termination_request(customer=customer, by=alice, reason="x")
    with time_machine.travel(APPROVED_AT, tick=False):
        lifecycle.customer_termination_approve(termination=termination, by=bob)

    entry = AuditEntry.objects.get(action="customer.termination_approved")
    assert_audited_on(entry, actor=bob, customer=customer, termination=termination)
    assert entry.before == {"termination": "awaiting_approval"}
    assert entry.after == {"termination": "approved", "delete_after": "2026-06-10T09:00:00Z"}


def test_an_msp_api_key_cannot_approve_a_termination_and_is_told_where_to(customer_factory, staff):
    from portal.apikeys.services import apikey_create

    alice, bob = staff
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), by=alice, reason="x"
    )
    key, _raw = apikey_create(name="ops", created_by=bob)
    with pytest.raises(Refused) as refused:
        lifecycle.customer_termination_approve(termination=termination, by=key)
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.message_text == (
        "A termination is approved by a second staff member in the console."
    )


def test_a_termination_no_longer_awaiting_approval_is_refused_naming_its_state(
    customer_factory, staff
):
    alice, bob = staff
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), by=alice, reason="x"
    )
    lifecycle.customer_termination_approve(termination=termination, by=bob)
    with pytest.raises(Refused) as refused:
        lifecycle.customer_termination_approve(termination=termination, by=bob)
    assert refused.value.code == Code.INVALID_STATE
    assert refused.value.message_text == (
        "This termination is already approved, waiting for the grace period."
    )
