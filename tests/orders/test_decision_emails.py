"""The review page promises an email when staff decide; approving and rejecting send it."""

from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from portal.orders import services, tasks
from provisioning import tasks as provisioning_tasks
from provisioning.services import ordering
from tests.orders.test_order_place import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(customer_factory):
    return customer_factory(billing_email="billing@studio.example")


@pytest.fixture
def staff(user_factory):
    return user_factory("ops@msp.example", is_staff=True, mfa=True)


@pytest.fixture
def mails_inline(monkeypatch):
    monkeypatch.setattr(tasks.send_order_decision_email, "delay", tasks.send_order_decision_email)


def test_approval_mails_the_person_who_ordered_and_billing(
    customer,
    plan_factory,
    staff,
    user_factory,
    member_factory,
    mails_inline,
    django_capture_on_commit_callbacks,
):
    buyer = user_factory("dana@studio.example")
    member_factory(role="owner", customer=customer, user=buyer)
    order = place(customer, plan_factory(requires_approval=True), placed_by=buyer)

    with (
        mock.patch.object(provisioning_tasks.create_filespace, "delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ordering.order_approve(order=order, acting_user=staff)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@studio.example", "billing@studio.example"]
    assert "was approved" in message.subject
    assert f"/orders/{order.pk}/" in message.body


def test_rejection_mails_the_reason(
    customer, plan_factory, staff, mails_inline, django_capture_on_commit_callbacks
):
    order = place(customer, plan_factory(requires_approval=True))

    with django_capture_on_commit_callbacks(execute=True):
        services.order_reject(order=order, acting_user=staff, reason="Region not offered to you.")

    assert len(mail.outbox) == 1
    assert "was not approved" in mail.outbox[0].subject
    assert "Region not offered to you." in mail.outbox[0].body


def test_a_decision_that_fails_sends_nothing(
    customer, plan_factory, staff, mails_inline, django_capture_on_commit_callbacks
):
    order = place(customer, plan_factory(requires_approval=True))

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        services.order_reject(order=order, acting_user=staff, reason="")

    assert mail.outbox == []
