"""Payments in Chromium against localstripe: no order without a card, a card saved through
localstripe's Stripe.js, an invoice charged and its PDF downloaded; a declined card chased,
suspended, paid, resumed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.payments import tasks
from billing.payments.models import Payment
from portal.actions import Principal
from portal.customers.models import Customer
from tests.e2e.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stripe_portal(portal, localstripe, settings) -> str:
    """The live portal with Stripe.js from localstripe, allowed by the CSP and nothing else."""
    origin = localstripe.url
    csp = {key: list(value) for key, value in settings.SECURE_CSP.items()}
    csp["script-src"].append(origin)
    csp["frame-src"] = ["'self'", origin]
    csp["connect-src"] = ["'self'", origin]
    settings.SECURE_CSP = csp
    # The first page of a cold live server can take longer than Playwright's 10 s on a loaded
    # machine; ask for it once before the browser does.
    requests.get(portal + "/accounts/login/", timeout=120)
    return portal


def _owner(member_factory, user_factory, name: str, email: str):
    user = user_factory(email)
    user.set_password(PASSWORD)
    user.save()
    return member_factory(role="owner", user=user, customer=None).customer, user


def _type_card(page, number: str) -> None:
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("31")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("10115")
    page.get_by_role("button", name="Save card").click()


def _finalize(customer, amount: str = "25.00", month: int = 1):
    from datetime import date
    from decimal import Decimal

    from billing.models import Invoice, InvoiceLine
    from billing.services.invoices import invoice_finalize

    invoice = Invoice.objects.create(
        customer=customer, period_start=date(2026, month, 1), currency="EUR"
    )
    InvoiceLine.objects.create(invoice=invoice, position=1, kind=InvoiceLine.Kind.ADJUSTMENT,
                               description="Storage", amount=Decimal(amount))  # fmt: skip
    return invoice_finalize(invoice_id=invoice.pk, actor=Principal.system())


def _charge_pending() -> None:
    # The charge task, as a worker would run it after the commit.
    for payment in Payment.objects.filter(state=Payment.State.PENDING, kind="charge"):
        tasks.charge_payment.run(payment.pk)


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-"), content[:20]
    reader = PdfReader(io.BytesIO(content), strict=True)
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_new_customer_saves_a_card_before_ordering_and_an_invoice_is_charged(
    stripe_portal, localstripe, page, plan, member_factory, user_factory, shots
):
    customer, user = _owner(member_factory, user_factory, "Fabrikam", "owner@fabrikam.example")
    sign_in(page, stripe_portal, user.email, PASSWORD)
    page.goto(f"{stripe_portal}/orders/new/{plan.slug}/")
    expect(page.get_by_text("Save a card before your first order")).to_be_visible()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    shots(page, "card-required")

    _type_card(page, "4242424242424242")
    # Back on the order form it was sent from.
    page.get_by_label("Filespace name").fill("media")
    page.get_by_label("Region").select_option("eu-de")
    page.get_by_role("button", name="Review order").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()

    invoice = _finalize(customer)
    _charge_pending()
    page.goto(f"{stripe_portal}/billing/payments/")
    row = page.get_by_role("row").filter(has_text=invoice.number)
    expect(row.get_by_text("Paid")).to_be_visible()
    expect(page.get_by_text("Visa ending 4242")).to_be_visible()
    shots(page, "paid")

    # The invoice's page, then its PDF: a real PDF whose total is the one the page shows and
    # the one Stripe charged.
    row.get_by_role("link", name=invoice.number).click()
    total_row = page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Total", exact=True)
    )
    shown_total = total_row.get_by_role("cell").inner_text().strip()
    assert shown_total == "EUR 25.00"
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    text = _pdf_text(Path(download.path()).read_bytes())
    assert f"Invoice {invoice.number}" in text
    assert f"Total {shown_total}" in text
    (intent,) = localstripe.payment_intents()
    assert (intent["amount"], intent["currency"], intent["status"]) == (2500, "eur", "succeeded")


def test_a_declined_card_is_chased_suspended_then_paid_and_resumed(
    stripe_portal, page, member_factory, user_factory, settings, shots, time_machine
):
    settings.DUNNING_REMINDER_DAYS = [1, 3, 7]
    settings.DUNNING_SUSPEND_AFTER_DAYS = 10
    customer, user = _owner(member_factory, user_factory, "Contoso", "owner@contoso.example")
    sign_in(page, stripe_portal, user.email, PASSWORD)
    page.goto(f"{stripe_portal}/billing/payment-method/")
    _type_card(page, "4000000000000341")  # saves, then every charge is declined
    # The message names the card: a bare "Card saved" also matches the page's own "No card
    # saved yet." (text match ignores case), and the journey then ran on before the save.
    expect(page.get_by_text("Card saved: Visa ending 0341")).to_be_visible()

    invoice = _finalize(customer)
    _charge_pending()
    page.goto(f"{stripe_portal}/billing/payments/")
    expect(page.get_by_text("Action needed")).to_be_visible()

    started = Payment.objects.get(invoice=invoice, attempt=1).updated_at
    for day in (1, 3, 7, 10):
        time_machine.move_to(started + timedelta(days=day, minutes=1), tick=True)
        tasks.run_dunning.run()
        _charge_pending()
    time_machine.move_to(datetime.now(UTC), tick=True)
    reminders = [m for m in mail.outbox if invoice.number in m.subject]
    assert len(reminders) == 3
    assert Customer.objects.get(pk=customer.pk).status == "suspended"

    page.reload()
    expect(page.locator("#nonpayment-note")).to_be_visible()
    shots(page, "suspended")
    page.get_by_role("link", name="Resolve").click()
    page.get_by_role("link", name="Update card").click()
    _type_card(page, "4242424242424242")
    expect(page.get_by_text("Card saved: Visa ending 4242")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=invoice.number)
    row.get_by_role("link", name="Resolve").click()
    page.get_by_role("button", name="Pay with Visa ending 4242").click()
    _charge_pending()
    page.goto(f"{stripe_portal}/billing/payments/")
    expect(
        page.get_by_role("row").filter(has_text=invoice.number).get_by_text("Paid")
    ).to_be_visible()
    expect(page.locator("#account-status-banner")).to_have_count(0)
    assert Customer.objects.get(pk=customer.pk).status == "active"
    shots(page, "resumed")
