"""Stripe's webhooks: signature verified, each event applied once, the reconciler as a backstop."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from billing.payments import tasks
from billing.payments.models import Payment, StripeEvent
from portal.audit.models import AuditEntry

from .conftest import SECURE_CARD

pytestmark = pytest.mark.django_db
SECRET = "whsec_portal_test"


def _signed(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _event(event_id: str, intent: dict, kind: str = "payment_intent.succeeded") -> bytes:
    body = {"id": event_id, "object": "event", "type": kind, "data": {"object": intent}}
    return json.dumps(body).encode()


def _post(client, payload: bytes, signature: str):
    return client.post(
        reverse("payments:stripe_webhook"),
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


@pytest.fixture
def waiting_payment(customer_factory, draft_invoice, finalize, save_card, localstripe):
    """A charge that needs 3-D Secure, as the charge task left it."""
    customer = customer_factory()
    save_card(customer, SECURE_CARD)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(payment.pk)
    payment.refresh_from_db()
    assert payment.state == Payment.State.ACTION_NEEDED
    return payment


def _succeeded(payment) -> dict:
    return {"id": payment.stripe_payment_intent_id, "object": "payment_intent",
            "status": "succeeded", "metadata": {}}  # fmt: skip


def test_a_signed_event_settles_the_payment_and_a_redelivery_changes_nothing(
    client, waiting_payment
):
    payload = _event("evt_1", _succeeded(waiting_payment))
    assert _post(client, payload, _signed(payload)).status_code == 200
    assert _post(client, payload, _signed(payload)).status_code == 200

    waiting_payment.refresh_from_db()
    assert waiting_payment.state == Payment.State.SUCCEEDED
    assert StripeEvent.objects.filter(event_id="evt_1").count() == 1
    assert AuditEntry.objects.filter(action="payment.succeeded").count() == 1


def test_a_second_event_about_a_settled_payment_records_nothing_new(client, waiting_payment):
    for event_id in ("evt_1", "evt_2"):
        payload = _event(event_id, _succeeded(waiting_payment))
        assert _post(client, payload, _signed(payload)).status_code == 200
    assert AuditEntry.objects.filter(action="payment.succeeded").count() == 1


def test_a_replaced_charge_that_succeeds_later_is_refunded_once(
    client, waiting_payment, django_capture_on_commit_callbacks, monkeypatch
):
    """Its cancel never reached Stripe (or came too late) and the customer paid it anyway."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.refund_payment, "delay", sent.append)
    Payment.objects.filter(pk=waiting_payment.pk).update(state=Payment.State.CANCELED)
    with django_capture_on_commit_callbacks(execute=True):
        for event_id in ("evt_1", "evt_2"):
            payload = _event(event_id, _succeeded(waiting_payment))
            assert _post(client, payload, _signed(payload)).status_code == 200

    refund = Payment.objects.get(kind=Payment.Kind.REFUND)
    assert refund.invoice_id == waiting_payment.invoice_id
    assert refund.amount == waiting_payment.amount
    assert sent == [refund.pk]
    waiting_payment.refresh_from_db()
    assert waiting_payment.state == Payment.State.CANCELED
    assert not Payment.objects.filter(invoice=waiting_payment.invoice).paying().exists()
    assert AuditEntry.objects.filter(action="payment.replaced_charge_refunded").count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "t=1,v1=00",
        "garbage",
        pytest.param("wrong-secret", id="wrong-secret"),
        pytest.param("stale", id="five-minutes-old"),
    ],
)
def test_a_bad_signature_is_refused_and_changes_nothing(client, waiting_payment, signature):
    payload = _event("evt_bad", _succeeded(waiting_payment))
    if signature == "wrong-secret":
        signature = _signed(payload, secret="whsec_someone_else")
    elif signature == "stale":
        signature = _signed(payload, at=int(time.time()) - 301)
    assert _post(client, payload, signature).status_code == 400
    waiting_payment.refresh_from_db()
    assert waiting_payment.state == Payment.State.ACTION_NEEDED
    assert not StripeEvent.objects.exists()


def test_without_a_configured_secret_every_webhook_is_refused(client, settings, waiting_payment):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = _event("evt_1", _succeeded(waiting_payment))
    assert _post(client, payload, _signed(payload, secret="")).status_code == 400


def test_the_reconciler_reads_a_payment_whose_webhook_never_came(
    waiting_payment, localstripe, time_machine
):
    # The customer completes 3-D Secure in the browser (localstripe's dialog); no webhook arrives.
    localstripe._session.post(
        f"{localstripe.url}/v1/payment_intents/{waiting_payment.stripe_payment_intent_id}"
        "/_authenticate?success=true",
        json={"key": "pk_test_portal", "client_secret": waiting_payment.client_secret},
        timeout=10,
    ).raise_for_status()
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=10))
    assert tasks.reconcile_payments.run() == {"resent": 0, "refreshed": 1}
    waiting_payment.refresh_from_db()
    assert waiting_payment.state == Payment.State.SUCCEEDED


def test_the_reconciler_resends_a_charge_whose_task_was_lost(
    customer_factory, draft_invoice, finalize, save_card, localstripe, time_machine, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.charge_payment, "delay", lambda pk: sent.append(pk))
    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer))  # its after-commit message is dropped here
    payment = Payment.objects.get(invoice=invoice)
    assert tasks.reconcile_payments.run()["resent"] == 0  # too young to be called lost
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=10))
    assert tasks.reconcile_payments.run()["resent"] == 1
    assert sent == [payment.pk]
