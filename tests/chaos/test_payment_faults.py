"""The fault suite for card charges: a real worker SIGKILLed in the middle of a charge.

A finalized invoice sends `charge_payment` to a real Celery worker, which claims the payment
(a lease) and creates a PaymentIntent at localstripe with the invoice's idempotency key. The
worker is killed with the charge made at Stripe but not recorded here: while the answer is
still on its way back (localstripe acts on the POST at once and answers late), or after the
answer arrived and before the commit (the worker's test-only pause). The message was taken by
the dead worker (Redis would give it back only after its visibility timeout, hours), so a
second worker with beat recovers through the reconciler once the lease expires: it resends the
charge with the same idempotency key, localstripe replays the first answer, and the payment
is recorded. Exactly one PaymentIntent and one charge at Stripe, one succeeded payment row,
one "paid" audit entry and one `invoice.paid` event must remain.

Run with `make chaos` (or `.ci/chaos -k payment`): each scenario takes about 40 s, most of it
the lease (PAYMENT_LEASE_SECONDS, at least 30 s: longer than a Stripe call may take).
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceLine
from billing.payments import services as payments
from billing.payments.models import Payment
from billing.services.invoices import invoice_finalize
from portal.actions import Principal
from portal.actions.models import OutboxEvent
from portal.audit.models import AuditEntry
from tests.fixtures.localstripe import PUBLISHABLE_KEY, SECRET_KEY
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

GOOD_CARD = "4242424242424242"
LEASE_SECONDS = 30  # the setting's minimum
# From the kill: the lease runs out (at most LEASE_SECONDS after the claim), the reconciler
# (every second) resends the charge, a worker claims it and Stripe replays the first answer.
RECOVERY_WINDOW = LEASE_SECONDS + 30


def stripe_env(localstripe, **extra: str) -> dict[str, str]:
    env = {
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "PAYMENT_LEASE_SECONDS": str(LEASE_SECONDS),
        "PAYMENT_RECONCILE_INTERVAL": "1",
        "PAYMENT_RECONCILE_GRACE": "1",
        "EMAIL_URL": "console://",
        # No LucidLink in these scenarios: beat's provisioning jobs must not reach a simulator
        # someone runs on the default port (nothing listens on port 9).
        "LUCIDLINK_API_URL": "http://127.0.0.1:9/api/v1",
        "LUCIDLINK_TOKEN_URL": "http://127.0.0.1:9/oauth2/token",
    }
    env.update(extra)
    return env


def saved_card_customer(customer_factory, localstripe):
    """A customer whose card is saved the way the page does it: SetupIntent, Stripe.js, action."""
    customer = customer_factory()
    setup = payments.card_setup_start(customer=customer, by=Principal.system())
    answer = localstripe.save_card(
        setup_intent_id=setup.id, client_secret=setup.client_secret, number=GOOD_CARD
    )
    assert answer.get("status") == "succeeded", answer
    payments.payment_method_save(customer=customer, by=Principal.system(), setup_intent_id=setup.id)
    return customer


def finalize(customer, amount: str = "25.00") -> Invoice:
    """Finalize through the real action: the charge task is sent to the worker after commit."""
    invoice = Invoice.objects.create(
        customer=customer, period_start=date(2026, 1, 1), currency="EUR"
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        kind=InvoiceLine.Kind.ADJUSTMENT,
        description="Storage",
        amount=Decimal(amount),
    )
    return invoice_finalize(invoice_id=invoice.pk, actor=Principal.system())


def intents_for(localstripe, invoice: Invoice) -> list[dict]:
    """The invoice's PaymentIntents as localstripe lists them over HTTP."""
    return [
        intent
        for intent in localstripe.payment_intents()
        if (intent.get("metadata") or {}).get("portal_invoice_id") == str(invoice.pk)
    ]


def payment_state(invoice: Invoice) -> list[str]:
    return list(Payment.objects.filter(invoice=invoice).values_list("state", flat=True))


def check_charged_once(chaos_result, localstripe, invoice: Invoice) -> None:
    time.sleep(3)  # a doubled delivery or a second reconciler pass would land now
    intents = intents_for(localstripe, invoice)
    charges = localstripe.api("GET", "/v1/charges", limit="100")["data"]
    rows = list(Payment.objects.filter(invoice=invoice))
    chaos_result.checks["one PaymentIntent"] = len(intents) == 1 and (
        intents[0]["amount"],
        intents[0]["currency"],
        intents[0]["status"],
    ) == (2500, "eur", "succeeded")
    chaos_result.checks["one charge"] = len(charges) == 1 and charges[0]["amount"] == 2500
    chaos_result.checks["one payment row"] = (
        len(rows) == 1
        and rows[0].state == Payment.State.SUCCEEDED
        and len(intents) == 1
        and rows[0].stripe_payment_intent_id == intents[0]["id"]
    )
    paid = AuditEntry.objects.filter(customer=invoice.customer, action="payment.succeeded")
    events = OutboxEvent.objects.filter(event_type="invoice.paid", subject_id=invoice.pk)
    chaos_result.checks["paid once"] = paid.count() == 1 and events.count() == 1


def recover(chaos_result, localstripe, celery_worker_factory, invoice: Invoice) -> None:
    """Kill the doomed worker's charge window shut, then let a worker with beat finish the job."""
    killed_at = time.monotonic()
    celery_worker_factory(env=stripe_env(localstripe), beat=True)
    deadline = killed_at + RECOVERY_WINDOW
    while payment_state(invoice) != [Payment.State.SUCCEEDED] and time.monotonic() < deadline:
        time.sleep(0.25)
    settled = payment_state(invoice) == [Payment.State.SUCCEEDED]
    chaos_result.recovered_in = time.monotonic() - killed_at if settled else None
    chaos_result.checks["settled"] = settled
    check_charged_once(chaos_result, localstripe, invoice)
    assert chaos_result.passed, chaos_result.checks


def test_worker_killed_while_the_charge_answer_is_on_its_way(
    localstripe, customer_factory, celery_worker_factory, chaos_result
):
    customer = saved_card_customer(customer_factory, localstripe)
    # Stripe creates and confirms the PaymentIntent at once; its answer takes 20 s to come back.
    localstripe.delay_answers("/v1/payment_intents", seconds=20)
    doomed = celery_worker_factory(env=stripe_env(localstripe))

    invoice = finalize(customer)
    wait_until(lambda: intents_for(localstripe, invoice), timeout=30)
    doomed.kill()

    # The kill hit the window: Stripe charged, the portal has not recorded it.
    chaos_result.checks["killed before recording"] = payment_state(invoice) == [
        Payment.State.PENDING
    ]
    recover(chaos_result, localstripe, celery_worker_factory, invoice)


def test_worker_killed_after_stripe_answered_before_the_commit(
    localstripe, customer_factory, celery_worker_factory, chaos_result
):
    customer = saved_card_customer(customer_factory, localstripe)
    doomed = celery_worker_factory(
        env=stripe_env(localstripe, PAYMENTS_TEST_PAUSE_AFTER_CHARGE="120")
    )

    invoice = finalize(customer)
    wait_until(lambda: payments.PAUSE_AFTER_CHARGE_ENV in doomed.log(), timeout=30)
    doomed.kill()

    chaos_result.checks["killed before recording"] = (
        payment_state(invoice) == [Payment.State.PENDING]
        and len(intents_for(localstripe, invoice)) == 1
    )
    recover(chaos_result, localstripe, celery_worker_factory, invoice)
