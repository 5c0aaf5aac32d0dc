"""A suspended customer: no new orders, management locked with a clear message, a banner on
every page, filespaces untouched and billing going on."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.customers import services as customer_services
from portal.customers.lifecycle import (
    CustomerLocked,
    customer_ensure_manageable,
    customer_resume,
    customer_suspend,
)
from portal.customers.models import Invitation, Membership
from portal.orders.models import Order
from provisioning.services.ordering import order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(member_factory):
    return member_factory(role="owner")


@pytest.fixture
def suspended(owner, staff_user):
    customer_suspend(customer=owner.customer, acting_user=staff_user, reason="Unpaid invoices")
    return owner


def test_a_suspended_customer_cannot_place_an_order(suspended, plan_factory):
    with pytest.raises(ValidationError) as caught:
        order_place(
            customer=suspended.customer,
            plan=plan_factory(),
            name="media",
            provider="IBM",
            region="us-east",
            idempotency_key="k",
        )
    assert "not active" in " ".join(caught.value.messages)
    assert Order.objects.count() == 0


def test_the_same_order_goes_through_once_the_customer_is_resumed(
    suspended, plan_factory, staff_user, monkeypatch
):
    monkeypatch.setattr("provisioning.tasks.create_filespace.delay", lambda *a: None)
    customer_resume(customer=suspended.customer, acting_user=staff_user)
    order = order_place(
        customer=suspended.customer,
        plan=plan_factory(),
        name="media",
        provider="IBM",
        region="us-east",
        idempotency_key="k",
    )
    assert order.state == Order.State.PROVISIONING


@pytest.mark.parametrize("url_name", ["dashboard", "customers:team", "orders:list", "plans:list"])
def test_every_customer_page_shows_the_suspension_banner(client, suspended, url_name):
    client.force_login(suspended.user)
    body = client.get(reverse(url_name)).content.decode()
    assert 'id="account-status-banner"' in body
    assert "account is suspended" in body


def test_an_active_customer_sees_no_banner(client, owner):
    client.force_login(owner.user)
    assert 'id="account-status-banner"' not in client.get(reverse("dashboard")).content.decode()


def test_inviting_is_refused_with_a_clear_message(client, suspended):
    client.force_login(suspended.user)
    response = client.post(
        reverse("customers:invite"), {"email": "new@example.com", "role": "member"}, follow=True
    )
    assert "account is suspended" in response.content.decode()
    assert "cannot be changed" in response.content.decode()
    assert Invitation.objects.count() == 0


def test_removing_a_member_or_changing_a_role_is_refused(client, suspended, member_factory):
    other = member_factory(role="member", customer=suspended.customer)
    client.force_login(suspended.user)
    response = client.post(reverse("customers:member_remove", args=[other.pk]), follow=True)
    assert "account is suspended" in response.content.decode()
    assert Membership.objects.filter(pk=other.pk).exists()
    client.post(reverse("customers:member_role", args=[other.pk]), {"role": "admin"})
    assert Membership.objects.get(pk=other.pk).role == "member"


def test_an_earlier_invitation_cannot_be_accepted_while_suspended(owner, staff_user, user_factory):
    _invitation, token = customer_services.invitation_create(
        customer=owner.customer, email="late@example.com", role="member", invited_by=owner.user
    )
    customer_suspend(customer=owner.customer, acting_user=staff_user, reason="Unpaid")
    with pytest.raises(CustomerLocked):
        customer_services.invitation_accept(token=token, user=user_factory("late@example.com"))
    assert not Membership.objects.filter(user__email="late@example.com").exists()


def test_the_lock_reads_the_status_fresh_from_the_database(owner, staff_user):
    stale = type(owner.customer).objects.get(pk=owner.customer.pk)
    customer_suspend(customer=owner.customer, acting_user=staff_user, reason="Unpaid")
    assert stale.status == "active"
    with pytest.raises(CustomerLocked):
        customer_ensure_manageable(customer=stale)


def test_an_active_customer_is_manageable(owner):
    customer_ensure_manageable(customer=owner.customer)


def test_suspension_leaves_filespaces_alone_and_billing_going(
    suspended, filespace_factory, plan_factory
):
    from billing.services.invoices import billable_filespaces

    filespace = filespace_factory(
        customer=suspended.customer,
        state="active",
        remote_id="fs-live",
        provisioned_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    filespace.refresh_from_db()
    assert filespace.state == "active"
    billable = billable_filespaces(
        month_start=datetime(2026, 6, 1, tzinfo=UTC), month_end=datetime(2026, 7, 1, tzinfo=UTC)
    )
    assert filespace in billable


def test_suspending_twice_or_resuming_an_active_customer_says_why(owner, staff_user):
    customer_suspend(customer=owner.customer, acting_user=staff_user, reason="x")
    with pytest.raises(ValidationError, match="Only an active customer"):
        customer_suspend(customer=owner.customer, acting_user=staff_user, reason="x")
    customer_resume(customer=owner.customer, acting_user=staff_user)
    with pytest.raises(ValidationError, match="Only a suspended customer"):
        customer_resume(customer=owner.customer, acting_user=staff_user)
