"""Resuming a customer: only its own open termination blocks it, and the refusals say why
(`customer_resume`; found by mutating the action's body, docs/testing.md)."""

import pytest

from portal.actions import Code, Refused
from portal.audit.models import AuditEntry
from portal.customers import lifecycle
from portal.customers.models import Customer
from portal.customers.termination import CustomerTermination

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(user_factory):
    return user_factory("alice@msp.example", is_staff=True, mfa=True)


def test_another_customers_open_termination_does_not_block_a_resume(customer_factory, staff):
    lifecycle.customer_termination_request(customer=customer_factory(), by=staff, reason="x")
    customer = customer_factory(status=Customer.Status.SUSPENDED)

    lifecycle.customer_resume(customer=customer, by=staff)

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert AuditEntry.objects.get(action="customer.resumed").note == ""


def test_a_closed_termination_of_the_customer_does_not_block_a_resume(customer_factory, staff):
    customer = customer_factory(status=Customer.Status.SUSPENDED)
    CustomerTermination.objects.create(
        customer=customer, state=CustomerTermination.State.CANCELLED, reason="x",
        previous_status="suspended", requested_by=staff,
    )  # fmt: skip

    lifecycle.customer_resume(customer=customer, by=staff, reason="paid")

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_its_own_open_termination_blocks_a_resume_as_a_conflict(customer_factory, staff):
    customer = customer_factory()
    lifecycle.customer_termination_request(customer=customer, by=staff, reason="x")
    with pytest.raises(Refused) as refused:
        lifecycle.customer_resume(customer=customer, by=staff)
    assert refused.value.code == Code.INVALID_STATE
    assert refused.value.message_text == (
        "A termination of this customer is open; cancel it to resume the customer."
    )


def test_an_active_customer_is_refused_as_a_conflict(customer_factory, staff):
    with pytest.raises(Refused) as refused:
        lifecycle.customer_resume(customer=customer_factory(), by=staff)
    assert refused.value.code == Code.INVALID_STATE


def test_a_customer_cannot_resume_itself_and_is_told_who_can(customer_factory, user_factory):
    customer = customer_factory(status=Customer.Status.SUSPENDED)
    with pytest.raises(Refused) as refused:
        lifecycle.customer_resume(customer=customer, by=user_factory("someone@example.com"))
    assert refused.value.message_text == "Only Example MSP staff can resume customers."
