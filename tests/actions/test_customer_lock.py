"""A locked customer's refusal: the one code and message every customer-side write shows."""

from datetime import UTC, datetime

import pytest
import time_machine

from portal.actions import Code, Refused
from portal.customers.lifecycle import CustomerLocked, customer_ensure_manageable

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_a_locked_customer_is_refused_with_its_lock_named(status, customer_factory, settings):
    settings.SUPPORT_EMAIL = "help@msp.example"
    customer = customer_factory()
    type(customer).objects.filter(pk=customer.pk).update(status=status)
    with pytest.raises(CustomerLocked) as refused:
        customer_ensure_manageable(customer=customer)  # the instance still says active
    assert isinstance(refused.value, Refused)
    assert refused.value.code == Code.CUSTOMER_LOCKED
    assert refused.value.messages == [
        f"Your organisation's account is {status}, so its team, filespaces and filespace users "
        "cannot be changed. Contact help@msp.example for help."
    ]


def test_a_customer_row_that_is_gone_counts_as_terminated(customer_factory):
    customer = customer_factory()
    type(customer).objects.filter(pk=customer.pk).delete()
    with pytest.raises(CustomerLocked, match="account is terminated"):
        customer_ensure_manageable(customer=customer)


def test_an_active_customer_is_manageable(customer_factory):
    customer_ensure_manageable(customer=customer_factory())


def test_a_suspension_is_told_to_the_customers_webhooks_with_its_moment(customer_factory):
    from portal.actions import Principal
    from portal.actions.models import OutboxEvent
    from portal.customers.lifecycle import customer_suspend

    customer = customer_factory()
    with time_machine.travel(datetime(2026, 6, 10, 12, 0, tzinfo=UTC), tick=False):
        customer_suspend(customer=customer, by=Principal.system(), reason="unpaid invoices")
    event = OutboxEvent.objects.get(event_type="customer.suspended")
    assert event.customer == customer
    assert (event.subject_type, event.subject_id) == ("customer", customer.pk)
    assert event.facts == {"suspended_at": "2026-06-10T12:00:00Z"}


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_suspension_without_a_reason_is_refused_on_the_reason_field(reason, customer_factory):
    from django.core.exceptions import ValidationError

    from portal.actions import Principal
    from portal.customers.lifecycle import customer_suspend

    customer = customer_factory()
    with pytest.raises(ValidationError) as refused:
        customer_suspend(customer=customer, by=Principal.system(), reason=reason)
    assert refused.value.message_dict == {"reason": ["Give a reason; it is kept in the audit log."]}
    customer.refresh_from_db()
    assert customer.status == "active"


def test_suspending_a_customer_moves_that_one_only_and_the_caller_sees_it(customer_factory):
    from portal.actions import Principal
    from portal.customers.lifecycle import customer_suspend

    customer, other = customer_factory(), customer_factory()
    suspended = customer_suspend(customer=customer, by=Principal.system(), reason="unpaid")
    assert suspended.status == "suspended"  # the instance the page renders next
    other.refresh_from_db()
    assert other.status == "active"
