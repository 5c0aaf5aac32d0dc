"""Dunning: after a failed card charge, remind on the configured days (each reminder retries the
card), then suspend the customer for non-payment; paying resumes it (docs/payments.md).

A `Dunning` row per unpaid invoice is the truth. Beat's `run_dunning` advances each open one by
conditional UPDATEs, so a run repeated or two runs at once send each reminder once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.payments.models import Dunning, Payment, PaymentAccount
from portal.actions import Principal, Refused, action, guards, record
from portal.customers.models import Customer

logger = logging.getLogger(__name__)
NONPAYMENT = "Non-payment"


def dunning_start(*, payment: Payment, now) -> None:
    """Called by payment.settle (in its transaction) when a card charge fails."""
    Dunning.objects.get_or_create(
        invoice_id=payment.invoice_id,
        defaults={"customer_id": payment.customer_id, "started_at": now},
    )


def dunning_close(*, invoice_id: int, by: Principal, now) -> None:
    """Called when an invoice is paid (in the paying action's transaction): stop chasing it, and
    resume the customer if dunning suspended it and no other unpaid invoice still holds it."""
    from portal.customers.lifecycle import customer_resume

    dunning = Dunning.objects.filter(invoice_id=invoice_id, closed_at__isnull=True).first()
    if dunning is None:
        return
    if Dunning.objects.filter(pk=dunning.pk, closed_at__isnull=True).update(closed_at=now) != 1:
        return
    if dunning.suspended_at is None:
        return
    still_held = Dunning.objects.filter(
        customer_id=dunning.customer_id, closed_at__isnull=True, suspended_at__isnull=False
    ).exists()
    customer = Customer.objects.get(pk=dunning.customer_id)
    if still_held or customer.status != Customer.Status.SUSPENDED:
        return
    try:
        # A savepoint: a refused resume (a termination is open) must not undo the payment.
        with transaction.atomic():
            customer_resume(customer=customer, by=Principal.system(), reason="Unpaid invoice paid.")
    except Refused as exc:
        logger.info("Customer %s stays suspended: %s", customer.pk, exc.message_text)


def suspended_for_nonpayment(customer) -> bool:
    return Dunning.objects.filter(
        customer_id=customer.pk, closed_at__isnull=True, suspended_at__isnull=False
    ).exists()


@action("dunning.advance")
def dunning_advance(*, dunning_id: int, by=None, now=None) -> str:
    """System: send the reminders that are due (retrying the card with each), then suspend.

    Returns what it did: "reminded", "suspended", "closed" or "nothing".
    """
    from billing.payments.services import payment_retry

    by = Principal.of(by)
    guards.require_msp_or_system(by, what="chase unpaid invoices")
    now = now or timezone.now()
    dunning = Dunning.objects.select_related("invoice", "customer").get(pk=dunning_id)
    if not dunning.is_open:
        return "nothing"
    if Payment.objects.filter(invoice_id=dunning.invoice_id).paying().exists():
        with transaction.atomic():
            dunning_close(invoice_id=dunning.invoice_id, by=by, now=now)
        return "closed"
    days = settings.DUNNING_REMINDER_DAYS
    due = sum(1 for day in days if dunning.started_at + timedelta(days=day) <= now)
    if due > dunning.reminders_sent:
        with transaction.atomic():
            moved = Dunning.objects.filter(
                pk=dunning.pk, reminders_sent=dunning.reminders_sent, closed_at__isnull=True
            ).update(reminders_sent=due, last_reminder_at=now)
            if moved != 1:
                return "nothing"
            record(
                by=by,
                action="dunning.reminded",
                customer=dunning.customer,
                target=dunning.invoice,
                after={"reminder": due, "of": len(days)},
            )
            transaction.on_commit(lambda: send_reminder(dunning_id=dunning.pk, number=due))
            # The card retry belongs to the reminder: in the same transaction, so a crash cannot
            # leave a reminder counted whose retry never happened (the next run would not
            # retry it). A refused retry rolls back only its own savepoint.
            account = PaymentAccount.objects.filter(customer_id=dunning.customer_id).first()
            waiting = Payment.objects.filter(
                invoice_id=dunning.invoice_id, state=Payment.State.PENDING
            )
            if account is not None and account.has_card and not waiting.exists():
                try:
                    payment_retry(invoice=dunning.invoice, by=by)
                except Refused as exc:
                    logger.info("No retry of invoice %s: %s", dunning.invoice_id, exc.message_text)
        return "reminded"
    suspend_at = dunning.started_at + timedelta(days=settings.DUNNING_SUSPEND_AFTER_DAYS)
    if dunning.reminders_sent >= len(days) and dunning.suspended_at is None and now >= suspend_at:
        return _suspend(dunning, by=by, now=now)
    return "nothing"


def _suspend(dunning: Dunning, *, by: Principal, now) -> str:
    from portal.customers.lifecycle import customer_suspend

    with transaction.atomic():
        if (
            Dunning.objects.filter(pk=dunning.pk, suspended_at__isnull=True).update(
                suspended_at=now
            )
            != 1
        ):
            return "nothing"
        customer = Customer.objects.get(pk=dunning.customer_id)
        if customer.status != Customer.Status.ACTIVE:
            # Suspended (or worse) for another reason already: paying must not resume it.
            Dunning.objects.filter(pk=dunning.pk).update(suspended_at=None)
            return "nothing"
        customer_suspend(
            customer=customer,
            by=by,
            reason=f"{NONPAYMENT}: invoice {dunning.invoice.number} unpaid.",
        )
    return "suspended"


def send_reminder(*, dunning_id: int, number: int) -> bool:
    dunning = Dunning.objects.select_related("invoice", "customer").filter(pk=dunning_id).first()
    if dunning is None or not dunning.is_open:
        return False
    base = settings.PORTAL_BASE_URL.rstrip("/")
    days = settings.DUNNING_REMINDER_DAYS
    context = {
        "dunning": dunning,
        "invoice": dunning.invoice,
        "customer": dunning.customer,
        "number": number,
        "last": number >= len(days),
        "suspend_on": dunning.started_at + timedelta(days=settings.DUNNING_SUSPEND_AFTER_DAYS),
        "payments_url": f"{base}/billing/payments/",
        "MSP_NAME": settings.MSP_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
    }
    message = EmailMultiAlternatives(
        subject=f"[{settings.MSP_NAME}] Invoice {dunning.invoice.number} is unpaid "
        f"(reminder {number} of {len(days)})",
        body=render_to_string("payments/email/reminder.txt", context),
        to=[dunning.customer.billing_email],
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not send reminder %s of dunning %s.", number, dunning_id)
        return False
    return True


def dunnings_open():
    return Dunning.objects.filter(closed_at__isnull=True).values_list("pk", flat=True)
