"""Finalizing an invoice charges the saved card once, whatever is delivered twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.payments import services, stripe_client, tasks
from billing.payments.models import Payment
from portal.actions import Principal, Refused
from portal.actions.models import OutboxEvent
from portal.audit.models import AuditEntry

from .conftest import DECLINING_CARD, SECURE_CARD

pytestmark = pytest.mark.django_db


def test_finalizing_opens_one_charge_and_sends_it_only_after_commit(
    customer_factory, draft_invoice, finalize, save_card
):
    customer = customer_factory()
    save_card(customer)
    invoice, callbacks = finalize(draft_invoice(customer, "12.34"))
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.kind, payment.state, payment.amount) == ("charge", "pending", Decimal("12.34"))
    assert payment.idempotency_key == f"portal-invoice-{invoice.pk}-charge-1"
    assert len(callbacks) >= 1  # the charge task is sent on commit, not before


def test_the_charge_task_charges_the_card_and_marks_the_invoice_paid(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer, "12.34"))
    payment = Payment.objects.get(invoice=invoice)

    assert tasks.charge_payment.run(payment.pk) == "succeeded"

    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED
    intents = localstripe.payment_intents()
    assert [(i["amount"], i["currency"], i["status"]) for i in intents] == [
        (1234, "eur", "succeeded")
    ]
    assert payment.stripe_payment_intent_id == intents[0]["id"]
    assert OutboxEvent.objects.filter(event_type="invoice.paid", subject_id=invoice.pk).count() == 1
    assert AuditEntry.objects.filter(action="payment.succeeded").count() == 1


def test_a_second_delivery_of_the_charge_task_charges_nothing_more(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(payment.pk)
    assert tasks.charge_payment.run(payment.pk) == "skipped"  # settled: nothing sent
    assert len(localstripe.payment_intents()) == 1
    assert AuditEntry.objects.filter(action="payment.succeeded").count() == 1


def test_a_worker_that_died_after_stripe_charged_is_answered_with_the_same_charge(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    """The first worker's call reached Stripe, then the worker died before recording it: the
    retry (after the lease expires) sends the same idempotency key and gets the same charge."""
    customer = customer_factory()
    account = save_card(customer)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)
    first = stripe_client.charge_off_session(
        customer_id=account.stripe_customer_id,
        payment_method_id=account.payment_method_id,
        amount=payment.amount,
        currency=payment.currency,
        idempotency_key=payment.idempotency_key,
        metadata={},
    )

    tasks.charge_payment.run(payment.pk)

    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED
    assert payment.stripe_payment_intent_id == first.id
    assert len(localstripe.payment_intents()) == 1


def test_a_payment_held_by_another_worker_is_not_claimed_again(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)
    assert services.payment_claim(payment_id=payment.pk) is not None
    assert tasks.charge_payment.run(payment.pk) == "skipped"
    assert localstripe.payment_intents() == []


def test_finalizing_twice_is_refused_and_opens_no_second_charge(
    customer_factory, draft_invoice, finalize, save_card
):
    from billing.services.pricing import BillingError

    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer))
    with pytest.raises(BillingError):
        finalize(invoice)
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_without_a_stripe_key_a_saved_card_is_not_charged(
    customer_factory, draft_invoice, finalize, save_card, settings
):
    customer = customer_factory()
    save_card(customer)
    settings.STRIPE_SECRET_KEY = ""
    invoice, _ = finalize(draft_invoice(customer))
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_customer_without_a_card_is_not_charged(customer_factory, draft_invoice, finalize):
    customer = customer_factory()
    invoice, _ = finalize(draft_invoice(customer))
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_customer_on_invoice_terms_is_not_charged_even_with_a_card(
    customer_factory, user_factory, draft_invoice, finalize, save_card
):
    customer = customer_factory()
    save_card(customer)
    staff = user_factory(is_staff=True, mfa=True)
    services.payment_terms_set(
        customer=customer, by=Principal.for_user(staff), invoice_terms=True, reason="Pays by BACS"
    )
    invoice, _ = finalize(draft_invoice(customer))
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_declined_card_needs_action_and_emits_a_failure_event(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    customer = customer_factory()
    save_card(customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)

    assert tasks.charge_payment.run(payment.pk) == "action_needed"

    payment.refresh_from_db()
    assert payment.failure_code == "card_declined"
    assert "declined" in payment.failure_message
    assert OutboxEvent.objects.filter(event_type="invoice.payment_failed").count() == 1


def test_a_new_card_then_pay_now_charges_a_second_attempt_and_replaces_the_first(
    customer_factory, member_factory, draft_invoice, finalize, save_card, localstripe
):
    owner = member_factory(role="owner")
    customer = owner.customer
    save_card(customer, DECLINING_CARD)
    invoice, _ = finalize(draft_invoice(customer))
    first = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(first.pk)
    save_card(customer)  # a good card

    second = services.payment_retry(invoice=invoice, by=Principal.for_user(owner.user))
    tasks.charge_payment.run(second.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state, second.attempt) == ("canceled", "succeeded", 2)
    with pytest.raises(Refused, match="already paid"):
        services.payment_retry(invoice=invoice, by=Principal.for_user(owner.user))


def _authenticate_late(localstripe, payment: Payment) -> int:
    """The customer finishes 3-D Secure for this payment in a tab left open (Stripe.js's call)."""
    return localstripe._session.post(
        f"{localstripe.url}/v1/payment_intents/{payment.stripe_payment_intent_id}"
        "/_authenticate?success=true",
        json={"key": "pk_test_portal", "client_secret": payment.client_secret},
        timeout=10,
    ).status_code


@pytest.mark.parametrize("replaced_by", ["a retry with a new card", "a bank transfer"])
def test_a_replaced_3d_secure_charge_is_canceled_at_stripe_so_it_cannot_pay_twice(
    replaced_by, member_factory, user_factory, draft_invoice, finalize, save_card, localstripe,
    django_capture_on_commit_callbacks, monkeypatch,
):  # fmt: skip
    owner = member_factory(role="owner")
    save_card(owner.customer, SECURE_CARD)
    invoice, _ = finalize(draft_invoice(owner.customer))
    first = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(first.pk)
    first.refresh_from_db()
    assert first.state == Payment.State.ACTION_NEEDED
    sent: list[int] = []
    monkeypatch.setattr(tasks.cancel_payment_intent, "delay", sent.append)
    monkeypatch.setattr(tasks.charge_payment, "delay", lambda pk: None)
    monkeypatch.setattr("portal.actions.outbox._enqueue_relay", lambda: None)

    with django_capture_on_commit_callbacks() as callbacks:
        if replaced_by == "a bank transfer":
            staff = Principal.for_user(user_factory(is_staff=True, mfa=True))
            services.payment_manual_record(
                invoice=invoice, by=staff, amount="12.34", reference="BANK-1"
            )
        else:
            save_card(owner.customer)
            second = services.payment_retry(invoice=invoice, by=Principal.for_user(owner.user))
        assert sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert sent == [first.pk]
    # What the task does; a second delivery changes nothing.
    assert tasks.cancel_payment_intent.run(first.pk) == "canceled"
    assert tasks.cancel_payment_intent.run(first.pk) == "canceled"
    if replaced_by != "a bank transfer":
        tasks.charge_payment.run(second.pk)

    assert _authenticate_late(localstripe, first) == 400  # Stripe refuses: nothing more is paid
    intents = {i["id"]: i["status"] for i in localstripe.payment_intents()}
    assert intents[first.stripe_payment_intent_id] == "canceled"
    paid_by_card = 0 if replaced_by == "a bank transfer" else 1
    assert list(intents.values()).count("succeeded") == paid_by_card
    first.refresh_from_db()
    assert first.state == Payment.State.CANCELED


@pytest.mark.parametrize("replaced_by", ["a retry with a new card", "a bank transfer"])
def test_a_replaced_charge_the_customer_paid_before_the_cancel_arrived_is_refunded_once(
    replaced_by, member_factory, user_factory, draft_invoice, finalize, save_card, localstripe,
    django_capture_on_commit_callbacks, monkeypatch,
):  # fmt: skip
    owner = member_factory(role="owner")
    save_card(owner.customer, SECURE_CARD)
    invoice, _ = finalize(draft_invoice(owner.customer, "12.34"))
    first = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(first.pk)
    first.refresh_from_db()
    monkeypatch.setattr(tasks.cancel_payment_intent, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.charge_payment, "delay", lambda pk: None)
    refunds_sent: list[int] = []
    monkeypatch.setattr(tasks.refund_payment, "delay", refunds_sent.append)
    monkeypatch.setattr("portal.actions.outbox._enqueue_relay", lambda: None)
    if replaced_by == "a bank transfer":
        staff = Principal.for_user(user_factory(is_staff=True, mfa=True))
        services.payment_manual_record(
            invoice=invoice, by=staff, amount="12.34", reference="BANK-1"
        )
    else:
        save_card(owner.customer)
        second = services.payment_retry(invoice=invoice, by=Principal.for_user(owner.user))
        tasks.charge_payment.run(second.pk)
    # The customer finishes 3-D Secure in the old tab before the cancel reaches Stripe.
    assert _authenticate_late(localstripe, first) == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.cancel_payment_intent.run(first.pk) == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.cancel_payment_intent.run(first.pk) == "succeeded"  # a second delivery

    refund = Payment.objects.get(invoice=invoice, kind=Payment.Kind.REFUND)
    assert refunds_sent == [refund.pk]
    assert (refund.amount, refund.stripe_payment_intent_id) == (
        Decimal("12.34"),
        first.stripe_payment_intent_id,
    )
    assert tasks.refund_payment.run(refund.pk) == "succeeded"
    assert tasks.refund_payment.run(refund.pk) == "skipped"
    at_stripe = localstripe.api("GET", "/v1/refunds", limit="100")["data"]
    assert [(r["payment_intent"], r["amount"]) for r in at_stripe] == [
        (first.stripe_payment_intent_id, 1234)
    ]
    entry = AuditEntry.objects.get(action="payment.replaced_charge_refunded")
    assert entry.customer_id == owner.customer.pk
    # The invoice stays paid by what replaced the charge, once.
    paying = Payment.objects.filter(invoice=invoice).paying()
    assert [p.kind for p in paying] == [
        Payment.Kind.MANUAL if replaced_by == "a bank transfer" else Payment.Kind.CHARGE
    ]
    first.refresh_from_db()
    assert first.state == Payment.State.CANCELED


def test_a_card_that_needs_3d_secure_waits_for_the_customer_with_a_client_secret(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    customer = customer_factory()
    save_card(customer, SECURE_CARD)
    invoice, _ = finalize(draft_invoice(customer))
    payment = Payment.objects.get(invoice=invoice)
    tasks.charge_payment.run(payment.pk)
    payment.refresh_from_db()
    assert payment.state == Payment.State.ACTION_NEEDED
    assert payment.failure_code == "requires_action"
    assert payment.client_secret.startswith(payment.stripe_payment_intent_id)


def test_a_credit_note_refunds_the_card_once(
    customer_factory, draft_invoice, finalize, save_card, localstripe
):
    from billing.services.invoices import invoice_credit

    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer, "20.00"))
    tasks.charge_payment.run(Payment.objects.get(invoice=invoice).pk)

    note = invoice_credit(
        invoice_id=invoice.pk, amount="5.00", reason="Outage", actor=Principal.system()
    )
    refund = Payment.objects.get(invoice=note, kind=Payment.Kind.REFUND)
    assert tasks.refund_payment.run(refund.pk) == "succeeded"
    assert tasks.refund_payment.run(refund.pk) == "skipped"
    refund.refresh_from_db()
    assert refund.amount == Decimal("5.00") and refund.stripe_refund_id
    refunds = localstripe.api("GET", "/v1/refunds", limit="100")["data"]
    assert [r["amount"] for r in refunds] == [500]


def test_staff_record_a_bank_transfer_with_its_reference_and_customers_cannot(
    customer_factory, member_factory, user_factory, draft_invoice, finalize
):
    owner = member_factory(role="owner")
    invoice, _ = finalize(draft_invoice(owner.customer, "30.00"))
    with pytest.raises(Refused):
        services.payment_manual_record(
            invoice=invoice, by=Principal.for_user(owner.user), amount="30.00", reference="x"
        )
    staff = user_factory(is_staff=True, mfa=True)
    payment = services.payment_manual_record(
        invoice=invoice, by=Principal.for_user(staff), amount="30.00", reference="BANK-123"
    )
    assert (payment.kind, payment.state, payment.reference) == ("manual", "succeeded", "BANK-123")
    entry = AuditEntry.objects.get(action="payment.manual_recorded")
    assert entry.actor_label == staff.email
    with pytest.raises(Refused, match="already paid"):
        services.payment_manual_record(
            invoice=invoice, by=Principal.for_user(staff), amount="30.00", reference="again"
        )


def test_a_bank_transfer_cannot_be_recorded_while_a_card_charge_is_on_its_way(
    customer_factory, user_factory, draft_invoice, finalize, save_card, localstripe
):
    """Recording a transfer beside a pending charge would let the customer pay twice: the charge
    may already be at Stripe (a worker holds it, or died holding it) and still succeed."""
    customer = customer_factory()
    save_card(customer)
    invoice, _ = finalize(draft_invoice(customer, "30.00"))  # the charge is pending, not sent
    staff = Principal.for_user(user_factory(is_staff=True, mfa=True))

    with pytest.raises(Refused, match="on its way") as refused:
        services.payment_manual_record(
            invoice=invoice, by=staff, amount="30.00", reference="BANK-123"
        )
    assert refused.value.code == "conflict"

    tasks.charge_payment.run(Payment.objects.get(invoice=invoice).pk)
    assert list(Payment.objects.filter(invoice=invoice).values_list("kind", "state")) == [
        ("charge", "succeeded")
    ]
    assert len(localstripe.payment_intents()) == 1
    with pytest.raises(Refused, match="already paid"):
        services.payment_manual_record(invoice=invoice, by=staff, amount="30.00", reference="x")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("12.345", "EUR", 1235), ("12.344", "EUR", 1234), ("500", "JPY", 500), ("0.005", "USD", 1)],
)
def test_amounts_are_rounded_half_up_to_the_minor_unit_before_charging(amount, currency, minor):
    assert stripe_client.to_minor_units(Decimal(amount), currency) == minor
