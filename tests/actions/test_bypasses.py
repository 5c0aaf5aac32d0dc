"""The three ways around the rules found against a running portal, each closed by the actions.

Each test failed on the code before actions (commit 8a03213): the web page deleted a suspended
customer's filespace, an MSP key approved a suspended customer's order without an audit entry,
and a customer key read MSP staff emails from the audit API.
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(user_factory):
    user = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def _api(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_owner_of_a_suspended_customer_cannot_delete_a_filespace_from_the_web_page(
    client, member_factory, filespace_factory
):
    owner = member_factory(role="owner")
    filespace = filespace_factory(customer=owner.customer, state="active", remote_id="fs-1")
    type(owner.customer).objects.filter(pk=owner.customer.pk).update(status="suspended")
    client.force_login(owner.user)

    response = client.post(
        f"/filespaces/{filespace.pk}/delete/", {"confirm": filespace.remote_name}, follow=True
    )

    assert Filespace.objects.get(pk=filespace.pk).state == "active"
    assert "suspended" in response.content.decode()
    assert not AuditEntry.objects.filter(action="filespace.delete_requested").exists()


def test_an_msp_key_cannot_approve_an_order_of_a_suspended_customer_and_the_attempt_is_audited(
    staff, customer_factory, plan_factory
):
    from portal.apikeys.services import apikey_create

    customer = customer_factory(name_prefix="acme")
    plan = plan_factory(requires_approval=True)
    order = Order.objects.create(
        customer=customer, plan=plan, name="media", remote_name="acme-media",
        provider=plan.provider, region="us-east", state=Order.State.AWAITING_APPROVAL,
        idempotency_key="bypass",
    )  # fmt: skip
    type(customer).objects.filter(pk=customer.pk).update(status="suspended")
    _key, raw = apikey_create(name="ops", created_by=staff)

    response = _api(raw).post(f"/api/v1/orders/{order.pk}/approve/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_inactive"
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_APPROVAL
    assert not Filespace.objects.exists()
    refused = AuditEntry.objects.get(action="order.approve_refused")
    assert refused.customer_id == customer.pk and refused.target_id == str(order.pk)


def test_a_customer_key_reads_msp_staff_as_msp_staff_in_the_audit_api(
    settings, staff, member_factory
):
    from portal.apikeys.services import apikey_create
    from portal.customers.lifecycle import customer_resume, customer_suspend

    settings.MSP_NAME = "Example MSP"
    admin = member_factory(role="admin")
    customer = admin.customer
    customer_suspend(customer=customer, acting_user=staff, reason="Unpaid")
    customer_resume(customer=customer, acting_user=staff)
    _key, raw = apikey_create(name="mine", created_by=admin.user, customer=customer)

    body = _api(raw).get("/api/v1/audit-entries/").json()

    actors = {row["action"]: row["actor"] for row in body["results"]}
    assert actors["customer.suspended"] == "Example MSP staff"
    assert actors["customer.resumed"] == "Example MSP staff"
    assert "staff@example.com" not in str(body)
