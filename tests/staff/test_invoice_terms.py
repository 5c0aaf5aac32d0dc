"""Invoice terms (bank transfer) granted and withdrawn from the staff customer page, audited;
only MSP staff with a second factor reach them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.payments.models import PaymentAccount
from portal.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def terms_of(customer) -> bool | None:
    account = PaymentAccount.objects.filter(customer=customer).first()
    return None if account is None else account.invoice_terms


def post_terms(client, customer, *, grant: bool, reason: str = "Pays by transfer, per contract"):
    data = {"reason": reason, **({"invoice_terms": "on"} if grant else {})}
    return client.post(reverse("payments:staff_terms", args=[customer.pk]), data, follow=True)


def test_staff_grant_then_withdraw_invoice_terms_from_the_customer_page_audited(
    staff_client, staff_user, customer_factory
):
    customer = customer_factory()
    page = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()
    assert "No card saved." in page
    assert "Grant invoice terms" in page and "Withdraw invoice terms" not in page
    assert reverse("payments:staff_terms", args=[customer.pk]) in page

    response = post_terms(staff_client, customer, grant=True, reason="Large account")

    assert response.redirect_chain == [(reverse("staff:customer", args=[customer.pk]), 302)]
    page = response.content.decode()
    assert f"Invoice terms granted for {customer}." in page
    assert "Withdraw invoice terms" in page and "Grant invoice terms" not in page
    assert terms_of(customer) is True
    granted = AuditEntry.objects.get(action="payment.terms_granted")
    assert (granted.actor_label, granted.customer_id, granted.note) == (
        staff_user.email,
        customer.pk,
        "Large account",
    )

    page = post_terms(staff_client, customer, grant=False, reason="Paid late twice").content
    assert f"Invoice terms withdrawn for {customer}." in page.decode()
    assert terms_of(customer) is False
    withdrawn = AuditEntry.objects.get(action="payment.terms_withdrawn")
    assert (withdrawn.actor_label, withdrawn.note) == (staff_user.email, "Paid late twice")


def test_the_customer_page_shows_the_saved_card_and_the_terms(staff_client, customer_factory):
    customer = customer_factory()
    PaymentAccount.objects.create(
        customer=customer, payment_method_id="pm_1", card_brand="visa", card_last4="4242",
        card_exp_month=12, card_exp_year=2031, invoice_terms=True,
    )  # fmt: skip

    page = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()

    assert "Card on file: Visa ending 4242, expires 12/2031." in page
    assert "Invoice terms" in page and "Withdraw invoice terms" in page


def test_a_grant_without_a_reason_or_a_second_grant_changes_nothing(staff_client, customer_factory):
    customer = customer_factory()

    page = post_terms(staff_client, customer, grant=True, reason="   ").content.decode()
    assert "Give a reason for the change of payment terms." in page
    assert terms_of(customer) is not True
    assert not AuditEntry.objects.filter(action__startswith="payment.terms").exists()

    post_terms(staff_client, customer, grant=True)
    page = post_terms(staff_client, customer, grant=True).content.decode()  # a double submit
    assert f"{customer} already has invoice terms." in page
    assert AuditEntry.objects.filter(action="payment.terms_granted").count() == 1


def test_an_unknown_customer_is_a_404(staff_client):
    response = staff_client.post(
        reverse("payments:staff_terms", args=[999999]), {"reason": "x", "invoice_terms": "on"}
    )
    assert response.status_code == 404


def test_customers_cannot_grant_themselves_or_others_invoice_terms(
    client, member_factory, customer_factory
):
    owner = member_factory(role="owner")
    other = customer_factory()
    client.force_login(owner.user)

    for customer in (owner.customer, other):
        response = client.post(
            reverse("payments:staff_terms", args=[customer.pk]),
            {"reason": "please", "invoice_terms": "on"},
        )
        assert response.status_code == 403
        assert terms_of(customer) is None
    assert client.get(reverse("staff:customer", args=[other.pk])).status_code == 403
    assert not AuditEntry.objects.filter(action__startswith="payment.terms").exists()


def test_staff_without_a_second_factor_are_sent_to_set_one_up(
    client, staff_factory, customer_factory
):
    customer = customer_factory()
    client.force_login(staff_factory("new@msp.example", mfa=False))

    response = client.post(
        reverse("payments:staff_terms", args=[customer.pk]),
        {"reason": "Pays by transfer", "invoice_terms": "on"},
    )

    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert terms_of(customer) is None
    assert not AuditEntry.objects.filter(action__startswith="payment.terms").exists()
