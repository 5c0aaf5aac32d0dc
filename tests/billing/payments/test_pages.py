"""The customer's payment pages and the staff payment pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.payments import tasks
from billing.payments.models import Payment

from .conftest import DECLINING_CARD

pytestmark = pytest.mark.django_db


def test_the_card_page_loads_stripe_js_from_the_configured_url_with_a_setup_intent(
    client, member_factory, localstripe
):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    page = client.get(reverse("payments:payment_method")).content.decode()
    assert f'<script src="{localstripe.url}/js.stripe.com/v3/"></script>' in page
    assert 'data-client-secret="seti_' in page
    assert "sk_test" not in page and "whsec" not in page


def test_a_member_without_a_billing_role_cannot_open_the_card_page(client, member_factory):
    member = member_factory(role="member")
    client.force_login(member.user)
    response = client.get(reverse("payments:payment_method"))
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_the_invoices_page_shows_each_payment_state_in_constant_queries(
    client, member_factory, draft_invoice, finalize, save_card, localstripe
):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    save_card(owner.customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(owner.customer, month=1))
    tasks.charge_payment.run(Payment.objects.get(invoice=invoice).pk)
    url = reverse("payments:invoices")
    with CaptureQueriesContext(connection) as one:
        page = client.get(url).content.decode()
    assert "Action needed" in page and "Your card was declined." in page
    payment = Payment.objects.get(invoice=invoice)
    assert reverse("payments:payment", args=[payment.pk]) in page
    for month in (2, 3, 4):
        finalize(draft_invoice(owner.customer, month=month))
    with CaptureQueriesContext(connection) as four:
        page = client.get(url).content.decode()
    assert page.count("Processing") == 3
    assert len(four) == len(one)


def test_the_action_needed_page_offers_a_new_card_and_pay_now(
    client, member_factory, draft_invoice, finalize, save_card, localstripe
):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    save_card(owner.customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(owner.customer))
    payment = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(payment.pk)
    page = client.get(reverse("payments:payment", args=[payment.pk])).content.decode()
    assert "Update card" in page
    assert reverse("payments:invoice_pay", args=[invoice.pk]) in page

    save_card(owner.customer)
    response = client.post(reverse("payments:invoice_pay", args=[invoice.pk]))
    second = Payment.objects.get(invoice=invoice, attempt=2)
    assert response["Location"] == reverse("payments:payment", args=[second.pk])


def test_staff_see_failures_and_record_a_bank_transfer(
    client, member_factory, user_factory, draft_invoice, finalize, save_card, localstripe
):
    owner = member_factory(role="owner")
    save_card(owner.customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(owner.customer, "40.00"))
    tasks.charge_payment.run(Payment.objects.get(invoice=invoice).pk)
    staff = user_factory(is_staff=True, mfa=True)
    client.force_login(staff)
    page = client.get(reverse("payments:staff_payments") + "?show=failures").content.decode()
    assert owner.customer.name in page and "Record bank transfer" in page

    manual = reverse("payments:staff_manual_payment", args=[invoice.pk])
    assert client.get(manual).status_code == 200
    response = client.post(manual, {"amount": "40.00", "reference": "BANK-42"})
    assert response.status_code == 302
    assert Payment.objects.get(invoice=invoice, kind="manual").reference == "BANK-42"
    assert Payment.objects.get(invoice=invoice, kind="charge").state == "canceled"


def test_staff_record_a_transfer_from_the_invoice_of_a_customer_on_invoice_terms(
    client, customer_factory, user_factory, draft_invoice, finalize
):
    """No card charge is ever opened for such an invoice, so no failure lists it: its own staff
    page says it is unpaid and links to the transfer form."""
    from billing.payments import services
    from portal.actions import Principal

    staff = user_factory(is_staff=True, mfa=True)
    customer = customer_factory()
    services.payment_terms_set(
        customer=customer, by=Principal.for_user(staff), invoice_terms=True, reason="Contract"
    )
    invoice, _ = finalize(draft_invoice(customer, "40.00"))
    client.force_login(staff)
    url = reverse("billing:staff_invoice", args=[invoice.pk])
    manual = reverse("payments:staff_manual_payment", args=[invoice.pk])

    page = client.get(url).content.decode()
    assert '<span class="badge badge-warn">Unpaid</span>' in page and f'href="{manual}"' in page

    client.post(manual, {"amount": "40.00", "reference": "BANK-7"})
    page = client.get(url).content.decode()
    assert '<span class="badge badge-ok">Paid</span>' in page and f'href="{manual}"' not in page
    assert Payment.objects.get(invoice=invoice).kind == "manual"


def test_customers_cannot_open_the_staff_payment_pages(client, member_factory):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    for url in (
        reverse("payments:staff_payments"),
        reverse("payments:staff_manual_payment", args=[1]),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "dunning queue" not in response.content.decode()
        assert "Record a bank transfer" not in response.content.decode()


def test_the_csp_allows_exactly_the_stripe_js_origin():
    env = {
        **os.environ,
        "DEBUG": "true",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
        "STRIPE_JS_URL": "https://js.stripe.com/v3/",
        "STRIPE_API_BASE": "https://api.stripe.com",
    }
    code = (
        "import json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','portal.settings');"
        "from django.conf import settings; print(json.dumps({k: [str(v) for v in vs] "
        "for k, vs in settings.SECURE_CSP.items()}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    csp = json.loads(output)
    assert [s for s in csp["script-src"] if s.startswith("http")] == ["https://js.stripe.com"]
    assert [s for s in csp["frame-src"] if s.startswith("http")] == ["https://js.stripe.com"]
    assert sorted(s for s in csp["connect-src"] if s.startswith("http")) == [
        "https://api.stripe.com",
        "https://js.stripe.com",
    ]


def test_seed_demo_gives_the_demo_customer_a_saved_test_card(settings, localstripe):
    import io

    from django.core.management import call_command

    from billing.payments.models import PaymentAccount

    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    account = PaymentAccount.objects.get()
    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert "Demo card: Visa ending 4242" in out.getvalue()
    call_command("seed_demo", stdout=io.StringIO())  # a second run keeps the card
    assert PaymentAccount.objects.get().payment_method_id == account.payment_method_id
