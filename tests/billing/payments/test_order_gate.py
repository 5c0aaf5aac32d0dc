"""No order before a card is saved (or staff granted invoice terms): pages, API and the action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.payments import services
from portal.actions import Code, Principal, Refused
from portal.audit.models import AuditEntry
from portal.orders.models import Order
from provisioning.services.ordering import order_place

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _required(settings, monkeypatch):
    settings.PAYMENT_METHOD_REQUIRED = True
    monkeypatch.setattr("portal.orders.views.domain_name", lambda: "msp-demo")


@pytest.fixture
def plan(plan_factory):
    return plan_factory(name="Teams", slug="teams")


def _place(customer, plan, user, key="k-1"):
    return order_place(
        customer=customer, plan=plan, name="media", provider="IBM", region="us-east",
        by=Principal.for_user(user), idempotency_key=key,
    )  # fmt: skip


def test_the_action_refuses_an_order_without_a_card_with_a_stable_code(member_factory, plan):
    owner = member_factory(role="owner")
    with pytest.raises(Refused) as refused:
        _place(owner.customer, plan, owner.user)
    assert refused.value.code == Code.PAYMENT_METHOD_REQUIRED
    assert "/billing/payment-method/" in refused.value.message_text
    assert not Order.objects.exists()


def test_the_order_page_sends_a_customer_without_a_card_to_the_card_page(
    client, member_factory, plan
):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    response = client.get(reverse("orders:new", args=[plan.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("payments:payment_method") + "?next=")
    page = client.get(response["Location"], follow=True).content.decode()
    assert "Save a card before your first order" in page


def test_the_api_answers_402_with_the_code_and_a_message(member_factory, plan):
    from rest_framework.test import APIClient

    from portal.apikeys.services import apikey_create

    owner = member_factory(role="owner")
    _key, raw = apikey_create(name="k", created_by=owner.user, customer=owner.customer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post(
        "/api/v1/orders/",
        {"plan": plan.pk, "name": "media", "provider": "IBM", "region": "us-east"},
        format="json",
    )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_method_required"
    assert not Order.objects.exists()


def test_invoice_terms_granted_by_staff_let_the_customer_order_and_are_audited(
    member_factory, user_factory, plan
):
    owner = member_factory(role="owner")
    staff = user_factory(is_staff=True, mfa=True)
    services.payment_terms_set(
        customer=owner.customer, by=Principal.for_user(staff), invoice_terms=True,
        reason="Large account, pays by transfer",
    )  # fmt: skip
    assert _place(owner.customer, plan, owner.user).state == Order.State.PROVISIONING
    entry = AuditEntry.objects.get(action="payment.terms_granted")
    assert (entry.actor_label, entry.note) == (staff.email, "Large account, pays by transfer")


def test_only_msp_staff_grant_invoice_terms(member_factory):
    owner = member_factory(role="owner")
    with pytest.raises(Refused) as refused:
        services.payment_terms_set(
            customer=owner.customer, by=Principal.for_user(owner.user), invoice_terms=True,
            reason="please",
        )  # fmt: skip
    assert refused.value.code == Code.FORBIDDEN
    assert AuditEntry.objects.filter(action="payment.terms_set_refused").count() == 1


def test_a_saved_card_lets_the_customer_order(member_factory, plan, save_card):
    owner = member_factory(role="owner")
    account = save_card(owner.customer)
    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert _place(owner.customer, plan, owner.user).state == Order.State.PROVISIONING


def test_without_the_requirement_orders_need_no_card(settings, member_factory, plan):
    settings.PAYMENT_METHOD_REQUIRED = False
    owner = member_factory(role="owner")
    assert _place(owner.customer, plan, owner.user).pk


def test_a_member_cannot_change_the_card_and_a_setup_from_another_customer_is_refused(
    member_factory, save_card, localstripe
):
    member = member_factory(role="member")
    with pytest.raises(Refused) as refused:
        services.card_setup_start(customer=member.customer, by=Principal.for_user(member.user))
    assert refused.value.code == Code.FORBIDDEN

    other = member_factory(role="owner")
    save_card(other.customer)
    setup = services.card_setup_start(customer=other.customer, by=Principal.system())
    owner = member_factory(role="owner")
    save_card(owner.customer)
    with pytest.raises(Refused, match="does not belong"):
        services.payment_method_save(
            customer=owner.customer, by=Principal.for_user(owner.user), setup_intent_id=setup.id
        )
