"""Payment test helpers: invoices finalized through the real action, cards saved at localstripe."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceLine
from billing.payments import services
from billing.payments.models import PaymentAccount
from portal.actions import Principal

GOOD_CARD = "4242424242424242"
DECLINING_CARD = "4000000000000341"  # saves fine, every charge is declined
SECURE_CARD = "4000002760003184"  # needs 3-D Secure when saved and when charged


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def draft_invoice(db):
    def make(customer, amount: str = "12.34", month: int = 1, currency: str = "EUR") -> Invoice:
        invoice = Invoice.objects.create(
            customer=customer, period_start=date(2026, month, 1), currency=currency
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            position=1,
            kind=InvoiceLine.Kind.ADJUSTMENT,
            description="Storage",
            amount=Decimal(amount),
        )
        return invoice

    return make


@pytest.fixture
def finalize(django_capture_on_commit_callbacks):
    """Finalize through the real action; returns (invoice, the callbacks run after commit)."""
    from billing.services.invoices import invoice_finalize

    def run(invoice: Invoice, *, execute: bool = False):
        with django_capture_on_commit_callbacks(execute=execute) as callbacks:
            done = invoice_finalize(invoice_id=invoice.pk, actor=Principal.system())
        return done, callbacks

    return run


@pytest.fixture
def save_card(localstripe):
    """Save a card for a customer the way the page does: SetupIntent, Stripe.js, then the action."""

    def save(customer, number: str = GOOD_CARD) -> PaymentAccount:
        setup = services.card_setup_start(customer=customer, by=Principal.system())
        answer = localstripe.save_card(
            setup_intent_id=setup.id, client_secret=setup.client_secret, number=number
        )
        assert answer.get("status") == "succeeded", answer
        return services.payment_method_save(
            customer=customer, by=Principal.system(), setup_intent_id=setup.id
        )

    return save
