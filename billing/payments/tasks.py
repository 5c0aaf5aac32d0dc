"""Payment tasks: ids in, idempotent, retried with back-off on transient Stripe failures."""

from __future__ import annotations

import logging

from celery import shared_task

from billing.payments import dunning, services, stripe_client
from billing.payments.models import Payment
from billing.tasks import backoff

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=8)
def charge_payment(self, payment_id: int) -> str:
    """Charge one pending card payment; a second delivery finds it claimed or settled and stops.

    acks_late: a worker killed mid-charge leaves the message to be redelivered; the lease then
    expires and the retry sends the same idempotency key, so Stripe answers with the first charge.
    """
    try:
        payment = services.payment_charge(payment_id=payment_id)
    except stripe_client.Unavailable as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None
    return payment.state if payment is not None else "skipped"


@shared_task(bind=True, acks_late=True, max_retries=8)
def cancel_payment_intent(self, payment_id: int) -> str:
    """Cancel at Stripe the PaymentIntent of a charge that was replaced (a retry, a transfer);
    canceling twice is harmless, Stripe refuses the second and the status is read instead."""
    try:
        return services.payment_intent_release(payment_id=payment_id)
    except stripe_client.Unavailable as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None


@shared_task(bind=True, acks_late=True, max_retries=8)
def refund_payment(self, payment_id: int) -> str:
    """Send one pending refund (idempotency key per credit note)."""
    try:
        payment = services.refund_send(payment_id=payment_id)
    except stripe_client.Unavailable as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None
    return payment.state if payment is not None else "skipped"


@shared_task(acks_late=True)
def reconcile_payments() -> dict:
    """Beat: resend charges whose task was lost, and read the state of 3-D Secure waits whose
    webhook never came. Safe to run any time: every step is idempotent."""
    pending, waiting = services.payments_to_reconcile()
    for payment_id, kind in pending:
        task = refund_payment if kind == Payment.Kind.REFUND else charge_payment
        task.delay(payment_id)
    refreshed = 0
    for payment_id in waiting:
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is None:
            continue
        try:
            services.payment_refresh(payment=payment)
            refreshed += 1
        except stripe_client.StripeError:
            logger.warning("Payment %s could not be read from Stripe.", payment_id)
    return {"resent": len(pending), "refreshed": refreshed}


@shared_task(acks_late=True)
def run_dunning() -> dict:
    """Beat (hourly): advance every open dunning; each step is a conditional UPDATE, so a repeated
    or concurrent run sends nothing twice."""
    done: dict[str, int] = {}
    for dunning_id in list(dunning.dunnings_open()):
        try:
            outcome = dunning.dunning_advance(dunning_id=dunning_id)
        except stripe_client.StripeError:
            outcome = "stripe_unavailable"
        done[outcome] = done.get(outcome, 0) + 1
    return done
