"""Payment actions: saving a card, invoice terms, charging, refunds, manual payments.

Every change of a payment's state is one action (docs/architecture.md): it checks who acts,
changes the rows under a conditional UPDATE, writes the audit entry and the outbox row in one
transaction. Calls to Stripe happen outside any transaction; the rows say what was asked and
the idempotency key makes asking again harmless.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import Invoice
from billing.payments import dunning, stripe_client
from billing.payments.models import Payment, PaymentAccount
from portal.actions import Code, Principal, Refused, action, guards, record
from portal.actions.outbox import outbox_add
from portal.customers.models import BILLING_ROLES

logger = logging.getLogger(__name__)

CARD_PAGE = "/billing/payment-method/"
# Test-only hook: seconds to sleep after Stripe answered a charge and before the answer is
# recorded, so the fault suite can SIGKILL a worker inside that window (tests/chaos).
PAUSE_AFTER_CHARGE_ENV = "PAYMENTS_TEST_PAUSE_AFTER_CHARGE"


def payment_method_require(*, customer) -> None:
    """Refuse an order from a customer with neither a saved card nor invoice terms."""
    from billing.payments.selectors import may_order

    if not may_order(customer=customer):
        raise Refused(
            "Save a card before your first order (Billing → Payment method, "
            f"{CARD_PAGE}), or ask {settings.MSP_NAME} about paying by bank transfer.",
            code=Code.PAYMENT_METHOD_REQUIRED,
        )


def _account(customer) -> PaymentAccount:
    account, _ = PaymentAccount.objects.get_or_create(customer_id=customer.pk)
    return account


def _require_stripe() -> None:
    if not stripe_client.is_configured():
        raise Refused("Card payments are not set up on this portal.", code=Code.INVALID_STATE)


def card_setup_start(*, customer, by) -> stripe_client.SetupIntent:
    """Create the customer at Stripe if needed, then a SetupIntent the browser confirms.

    Changes no product state (only remembers Stripe's customer id), so it is a service, not an
    action; the card becomes the customer's only in `payment_method_save`.
    """
    by = Principal.of(by)
    guards.require_role(by, customer, BILLING_ROLES, what="change the payment method")
    _require_stripe()
    account = _account(customer)
    if not account.stripe_customer_id:
        # The key makes a retry after a crash find the customer created the first time.
        stripe_id = stripe_client.customer_create(
            name=customer.name,
            email=customer.billing_email,
            portal_customer_id=customer.pk,
            idempotency_key=f"portal-customer-{customer.pk}",
        )
        PaymentAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
            stripe_customer_id=stripe_id
        )
        account.refresh_from_db()
    return stripe_client.setup_intent_create(customer_id=account.stripe_customer_id)


@action("payment_method.save", audit_refusals=True)
def payment_method_save(*, customer, by, setup_intent_id: str) -> PaymentAccount:
    """Owners, admins and billing members: keep the card a confirmed SetupIntent saved."""
    by = Principal.of(by)
    guards.require_role(by, customer, BILLING_ROLES, what="change the payment method")
    _require_stripe()
    account = _account(customer)
    intent = stripe_client.setup_intent_get((setup_intent_id or "").strip()[:100])
    if not account.stripe_customer_id or intent.customer_id != account.stripe_customer_id:
        raise Refused("This card setup does not belong to your organisation.", code=Code.INVALID)
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise Refused("The card was not confirmed; try again.", code=Code.INVALID)
    card = stripe_client.card_make_default(
        customer_id=account.stripe_customer_id, payment_method_id=intent.payment_method_id
    )
    with transaction.atomic():
        account = PaymentAccount.objects.select_for_update().get(pk=account.pk)
        before = {"card": account.card_label}
        account.payment_method_id = card.payment_method_id
        account.card_brand = card.brand[:30]
        account.card_last4 = card.last4
        account.card_exp_month = card.exp_month
        account.card_exp_year = card.exp_year
        account.card_saved_at = timezone.now()
        account.save()
        record(
            by=by,
            action="payment_method.saved",
            customer=customer,
            target=customer,
            before=before,
            after={"card": account.card_label},
        )
    return account


@action("payment.terms_set", audit_refusals=True)
def payment_terms_set(*, customer, by, invoice_terms: bool, reason: str) -> PaymentAccount:
    """MSP: allow (or stop allowing) a customer to order without a card and pay by transfer."""
    by = Principal.of(by)
    guards.require_msp(by, what="grant invoice terms")
    reason = (reason or "").strip()
    if not reason:
        raise Refused("Give a reason for the change of payment terms.", code=Code.INVALID)
    with transaction.atomic():
        account = _account(customer)
        updated = PaymentAccount.objects.filter(
            pk=account.pk, invoice_terms=not invoice_terms
        ).update(invoice_terms=invoice_terms, updated_at=timezone.now())
        if updated != 1:
            word = "already has" if invoice_terms else "does not have"
            raise Refused(f"{customer} {word} invoice terms.", code=Code.INVALID_STATE)
        record(
            by=by,
            action="payment.terms_granted" if invoice_terms else "payment.terms_withdrawn",
            customer=customer,
            target=customer,
            before={"invoice_terms": not invoice_terms},
            after={"invoice_terms": invoice_terms},
            note=reason[:1000],
        )
    account.refresh_from_db()
    return account


def on_invoice_finalized(*, invoice: Invoice, by: Principal) -> Payment | None:
    """The hook invoice finalization calls inside its transaction (one line there)."""
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return refund_request(credit_note=invoice, by=by)
    return payment_request(invoice=invoice, by=by)


@action("payment.request")
def payment_request(*, invoice: Invoice, by) -> Payment | None:
    """System: open the first card charge of a just-finalized invoice, sent after commit.

    The row is created in the finalization's transaction with a unique (invoice, attempt), so
    finalizing twice (refused anyway) or a rolled-back finalization can never leave two charges.
    """
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="charge invoices")
    if invoice.total <= 0 or not stripe_client.is_configured():
        return None  # without a Stripe key nothing can be charged; the invoice stays unpaid
    account = PaymentAccount.objects.filter(customer_id=invoice.customer_id).first()
    if account is None or not account.has_card or account.invoice_terms:
        return None
    return _open_charge(invoice=invoice, attempt=1, by=by)


def _open_charge(*, invoice: Invoice, attempt: int, by: Principal) -> Payment:
    from billing.payments import tasks

    payment = Payment.objects.create(
        customer_id=invoice.customer_id,
        invoice=invoice,
        kind=Payment.Kind.CHARGE,
        attempt=attempt,
        amount=invoice.display_total,
        currency=invoice.currency,
        idempotency_key=f"portal-invoice-{invoice.pk}-charge-{attempt}",
    )
    record(
        by=by,
        action="payment.requested",
        customer=invoice.customer,
        target=invoice,
        after={"payment": payment.pk, "attempt": attempt, "amount": str(payment.amount)},
    )
    tasks.charge_payment.delay_on_commit(payment.pk)
    return payment


@action("payment.retry", audit_refusals=True)
def payment_retry(*, invoice: Invoice, by) -> Payment:
    """The customer (after updating the card), MSP staff or dunning: charge an unpaid invoice
    again with the card now on file. The open attempt is replaced, never charged twice."""
    by = Principal.of(by)
    guards.require_role(by, invoice.customer, BILLING_ROLES, what="pay invoices")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        payments = Payment.objects.filter(invoice=invoice, kind=Payment.Kind.CHARGE)
        if Payment.objects.filter(invoice=invoice).paying().exists():
            raise Refused("This invoice is already paid.", code=Code.INVALID_STATE)
        if payments.filter(state=Payment.State.PENDING).exists():
            raise Refused(
                "A payment of this invoice is already on its way.", code=Code.INVALID_STATE
            )
        account = PaymentAccount.objects.filter(customer_id=invoice.customer_id).first()
        if account is None or not account.has_card:
            raise Refused("Save a card first.", code=Code.PAYMENT_METHOD_REQUIRED)
        _replace_waiting_charges(invoice=invoice, now=timezone.now())
        attempt = (payments.order_by("-attempt").values_list("attempt", flat=True).first() or 0) + 1
        return _open_charge(invoice=invoice, attempt=attempt, by=by)


def _replace_waiting_charges(*, invoice: Invoice, now) -> None:
    """Mark the invoice's charges waiting for the customer as replaced, and cancel their
    PaymentIntents at Stripe after the commit.

    A replaced charge's PaymentIntent would otherwise stay open at Stripe: a customer finishing
    3-D Secure for it later (a tab left open, an old reminder's link) would pay the invoice a
    second time, and the portal ignores a replaced payment's success. Called with the invoice
    locked.
    """
    from billing.payments import tasks

    waiting = list(
        Payment.objects.filter(
            invoice=invoice, kind=Payment.Kind.CHARGE, state=Payment.State.ACTION_NEEDED
        ).values_list("pk", "stripe_payment_intent_id")
    )
    Payment.objects.filter(pk__in=[pk for pk, _ in waiting]).update(
        state=Payment.State.CANCELED, updated_at=now
    )
    for pk, intent_id in waiting:
        if intent_id:
            tasks.cancel_payment_intent.delay_on_commit(pk)


def payment_intent_release(*, payment_id: int) -> str:
    """Cancel at Stripe the PaymentIntent of a replaced charge. Raises Unavailable.

    Returns Stripe's status for it, or "skipped" (no such replaced payment, or no intent). A
    PaymentIntent Stripe will not cancel has already ended: canceled (a second delivery), or
    succeeded just before (the customer finished 3-D Secure in a tab left open), which is
    refunded in full (`replaced_charge_refund`).
    """
    payment = Payment.objects.filter(pk=payment_id, state=Payment.State.CANCELED).first()
    if payment is None or not payment.stripe_payment_intent_id:
        return "skipped"
    try:
        return stripe_client.payment_intent_cancel(payment.stripe_payment_intent_id).status
    except stripe_client.Rejected:
        intent = stripe_client.payment_intent_get(payment.stripe_payment_intent_id)
        if intent.status == "succeeded":
            logger.warning(
                "Replaced payment %s of invoice %s succeeded at Stripe (%s) before it could be "
                "canceled: refunding it.",
                payment.pk,
                payment.invoice_id,
                intent.id,
            )
            replaced_charge_refund(payment_id=payment.pk, by=Principal.system())
        return intent.status


@action("payment.replaced_charge_refund")
def replaced_charge_refund(*, payment_id: int, by) -> Payment | None:
    """System: refund in full a replaced charge that succeeded at Stripe anyway.

    A charge waiting for 3-D Secure is replaced (a retry, a bank transfer) and its PaymentIntent
    canceled; a customer who finishes 3-D Secure just before the cancel arrives has paid twice.
    The invoice keeps what replaced the charge (or is chased again if that fails), and this
    charge's money goes back: a replaced charge is never kept. Once per charge: the refund
    carries the charge's attempt number, unique per invoice.
    """
    from billing.payments import tasks

    by = Principal.of(by)
    guards.require_msp_or_system(by, what="refund payments")
    with transaction.atomic():
        charge = (
            Payment.objects.select_for_update()
            .select_related("customer", "invoice")
            .filter(pk=payment_id, kind=Payment.Kind.CHARGE, state=Payment.State.CANCELED)
            .exclude(stripe_payment_intent_id="")
            .first()
        )
        if charge is None:
            return None
        refunds = Payment.objects.filter(
            invoice_id=charge.invoice_id, kind=Payment.Kind.REFUND, attempt=charge.attempt
        )
        if refunds.exists():
            return refunds.first()
        now = timezone.now()
        refund = Payment.objects.create(
            customer_id=charge.customer_id,
            invoice_id=charge.invoice_id,
            kind=Payment.Kind.REFUND,
            attempt=charge.attempt,
            amount=charge.amount,
            currency=charge.currency,
            stripe_payment_intent_id=charge.stripe_payment_intent_id,
            idempotency_key=f"portal-payment-{charge.pk}-replaced-refund",
        )
        Payment.objects.filter(pk=charge.pk).update(
            failure_message="Paid at Stripe after it was replaced; refunded in full.",
            updated_at=now,
        )
        record(
            by=by,
            action="payment.replaced_charge_refunded",
            customer=charge.customer,
            target=charge.invoice,
            after={"payment": charge.pk, "refund": refund.pk, "amount": str(charge.amount)},
        )
        tasks.refund_payment.delay_on_commit(refund.pk)
    return refund


@action("payment.refund_request")
def refund_request(*, credit_note: Invoice, by) -> Payment | None:
    """System: a finalized credit note gives money back to the card that paid its invoice."""
    from billing.payments import tasks

    by = Principal.of(by)
    guards.require_msp_or_system(by, what="refund invoices")
    original = credit_note.credits
    if original is None:
        return None
    paid = (
        Payment.objects.filter(
            invoice=original, kind=Payment.Kind.CHARGE, state=Payment.State.SUCCEEDED
        )
        .exclude(stripe_payment_intent_id="")
        .first()
    )
    amount = -credit_note.display_total
    if paid is None or amount <= 0:
        return None
    refunded = Payment.objects.filter(
        invoice__credits=original, kind=Payment.Kind.REFUND
    ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    amount = min(amount, paid.amount - refunded)
    if amount <= 0:
        return None
    refund = Payment.objects.create(
        customer_id=credit_note.customer_id,
        invoice=credit_note,
        kind=Payment.Kind.REFUND,
        amount=amount,
        currency=credit_note.currency,
        stripe_payment_intent_id=paid.stripe_payment_intent_id,
        idempotency_key=f"portal-credit-note-{credit_note.pk}-refund",
    )
    record(
        by=by,
        action="payment.refund_requested",
        customer=credit_note.customer,
        target=original,
        after={"refund": refund.pk, "amount": str(amount), "credit_note": credit_note.pk},
    )
    tasks.refund_payment.delay_on_commit(refund.pk)
    return refund


@action("payment.manual_record", audit_refusals=True)
def payment_manual_record(*, invoice: Invoice, by, amount, reference: str) -> Payment:
    """MSP: record a bank transfer that paid a finalized invoice (audited, with its reference)."""
    # Local: billing.services.invoices imports this module (finalizing opens the charge).
    from billing.services.invoices import amount_parse

    by = Principal.of(by)
    guards.require_msp(by, what="record payments")
    reference = (reference or "").strip()
    if not reference:
        raise Refused("Enter the bank transfer's reference.", code=Code.INVALID)
    try:
        value = amount_parse(amount, invoice.currency, "The amount")
    except Exception as exc:
        raise Refused(" ".join(getattr(exc, "messages", [str(exc)])), code=Code.INVALID) from None
    if value <= 0:
        raise Refused("The amount must be more than zero.", code=Code.INVALID)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.FINALIZED:
            raise Refused("Only a finalized invoice can be paid.", code=Code.INVALID_STATE)
        if Payment.objects.filter(invoice=invoice).paying().exists():
            raise Refused("This invoice is already paid.", code=Code.INVALID_STATE)
        # A pending charge may be at Stripe already (a worker holds it, or died holding it and
        # the reconciler will resend it) and still succeed: a transfer recorded beside it would
        # have the customer pay twice. Its answer comes within minutes; then it is paid or
        # waiting for the customer, which a transfer may replace.
        if Payment.objects.filter(
            invoice=invoice, kind=Payment.Kind.CHARGE, state=Payment.State.PENDING
        ).exists():
            raise Refused(
                "A card charge of this invoice is on its way; record the transfer once it has "
                "failed or is waiting for the customer.",
                code=Code.INVALID_STATE,
            )
        now = timezone.now()
        # A card charge still waiting for the customer is replaced by the transfer.
        _replace_waiting_charges(invoice=invoice, now=now)
        payment = Payment.objects.create(
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=Payment.Kind.MANUAL,
            amount=value,
            currency=invoice.currency,
            state=Payment.State.SUCCEEDED,
            idempotency_key=f"portal-invoice-{invoice.pk}-manual-{now.timestamp()}",
            reference=reference[:200],
            settled_at=now,
            recorded_by=by.audit_user,
        )
        record(
            by=by,
            action="payment.manual_recorded",
            customer=invoice.customer,
            target=invoice,
            after={"payment": payment.pk, "amount": str(value), "reference": payment.reference},
        )
        _outbox_paid(payment)
        dunning.dunning_close(invoice_id=invoice.pk, by=by, now=now)
    return payment


def _outbox_paid(payment: Payment) -> None:
    outbox_add(
        event_type="invoice.paid",
        customer=payment.customer,
        subject_type="invoice",
        subject_id=payment.invoice_id,
        dedupe_key=f"invoice.paid:{payment.invoice_id}",
        facts={"payment_id": payment.pk, "kind": payment.kind, "amount": str(payment.amount)},
    )


# --- Charging (tasks call these) ----------------------------------------------------------


def payment_claim(*, payment_id: int, now=None) -> Payment | None:
    """Take a short lease on a pending payment; None when another worker holds it or it is done.

    One conditional UPDATE, so of two deliveries of the same task only one goes on to Stripe at a
    time; a worker killed mid-charge leaves a lease that expires, and the next attempt sends the
    same idempotency key, which Stripe answers with the first result.
    """
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)
    claimed = (
        Payment.objects.filter(pk=payment_id, state=Payment.State.PENDING)
        .filter(_lease_free(now))
        .update(lease_until=lease, updated_at=now)
    )
    if claimed != 1:
        return None
    return Payment.objects.select_related("customer", "invoice").get(pk=payment_id)


def _lease_free(now):
    from django.db.models import Q

    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def payment_charge(*, payment_id: int) -> Payment | None:
    """Charge a claimed card payment at Stripe and record the answer. Raises Unavailable."""
    payment = payment_claim(payment_id=payment_id)
    if payment is None:
        return None
    account = PaymentAccount.objects.get(customer_id=payment.customer_id)
    try:
        intent = stripe_client.charge_off_session(
            customer_id=account.stripe_customer_id,
            payment_method_id=account.payment_method_id,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            metadata={
                "portal_invoice_id": str(payment.invoice_id),
                "portal_payment_id": str(payment.pk),
            },
        )
    except stripe_client.Declined as exc:
        return payment_settle(
            payment_id=payment.pk,
            by=Principal.system(),
            status="declined",
            payment_intent_id=exc.payment_intent_id,
            error_code=exc.code,
            error_message=exc.message,
        )
    except stripe_client.Rejected as exc:
        return payment_settle(
            payment_id=payment.pk,
            by=Principal.system(),
            status="rejected",
            error_code=exc.code,
            error_message=exc.message,
        )
    except stripe_client.Unavailable:
        Payment.objects.filter(pk=payment.pk).update(lease_until=None)
        raise
    _pause_for_tests()
    return payment_settle(
        payment_id=payment.pk,
        by=Principal.system(),
        status=intent.status,
        payment_intent_id=intent.id,
        client_secret=intent.client_secret,
        error_code=intent.error_code,
        error_message=intent.error_message,
    )


def _pause_for_tests() -> None:
    pause = os.environ.get(PAUSE_AFTER_CHARGE_ENV)
    if pause:
        logger.warning("Pausing %ss after the charge (%s).", pause, PAUSE_AFTER_CHARGE_ENV)
        time.sleep(float(pause))


@action("payment.settle")
def payment_settle(
    *,
    payment_id: int,
    by,
    status: str,
    payment_intent_id: str = "",
    client_secret: str = "",
    error_code: str = "",
    error_message: str = "",
) -> Payment | None:
    """System: record what Stripe said about a charge (its answer, a webhook, the reconciler).

    `status` is the PaymentIntent's status, or "declined"/"rejected". Moves only an open
    payment, under a conditional UPDATE, so the answer and a webhook arriving together record
    the outcome (and its audit entry and event) once.
    """
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="record payments")
    now = timezone.now()
    if status == "succeeded":
        state = Payment.State.SUCCEEDED
    elif status in ("processing", "requires_capture", "requires_confirmation"):
        state = Payment.State.PENDING
    elif status == "rejected":
        state = Payment.State.FAILED
    else:  # requires_action, requires_payment_method, declined, canceled
        state = Payment.State.ACTION_NEEDED
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .select_related("customer")
            .filter(pk=payment_id)
            .first()
        )
        if payment is None or payment.state not in Payment.OPEN_STATES:
            return payment
        if payment.state == state and state != Payment.State.PENDING:
            return payment
        before = payment.state
        fields = {"state": state, "updated_at": now, "lease_until": None}
        if payment_intent_id:
            fields["stripe_payment_intent_id"] = payment_intent_id[:100]
        if client_secret:
            fields["client_secret"] = client_secret[:200]
        if state == Payment.State.SUCCEEDED:
            fields.update(settled_at=now, failure_code="", failure_message="")
        elif state != Payment.State.PENDING:
            fields.update(
                failure_code=(error_code or status)[:100],
                failure_message=error_message or _failure_text(status),
            )
        Payment.objects.filter(pk=payment.pk).update(**fields)
        payment.refresh_from_db()
        if before == state:
            return payment
        record(
            by=by,
            action=f"payment.{state}",
            customer=payment.customer,
            target=payment.invoice,
            before={"state": before},
            after={"state": state, "payment": payment.pk, "code": payment.failure_code},
        )
        if state == Payment.State.SUCCEEDED:
            _outbox_paid(payment)
            dunning.dunning_close(invoice_id=payment.invoice_id, by=by, now=now)
        elif state in (Payment.State.ACTION_NEEDED, Payment.State.FAILED):
            dunning.dunning_start(payment=payment, now=now)
            outbox_add(
                event_type="invoice.payment_failed",
                customer=payment.customer,
                subject_type="invoice",
                subject_id=payment.invoice_id,
                dedupe_key=f"invoice.payment_failed:{payment.pk}",
                facts={"payment_id": payment.pk, "code": payment.failure_code},
            )
    return payment


def _failure_text(status: str) -> str:
    if status == "requires_action":
        return "Your bank asks you to confirm this payment (3-D Secure)."
    if status == "declined":
        return "Your card was declined."
    return "The payment did not go through."


def refund_send(*, payment_id: int) -> Payment | None:
    """Send a pending refund to Stripe (idempotency key per credit note) and record it."""
    payment = payment_claim(payment_id=payment_id)
    if payment is None or payment.kind != Payment.Kind.REFUND:
        return None
    try:
        refund = stripe_client.refund_create(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
        )
    except stripe_client.Unavailable:
        Payment.objects.filter(pk=payment.pk).update(lease_until=None)
        raise
    except (stripe_client.Rejected, stripe_client.Declined) as exc:
        return refund_settle(payment_id=payment.pk, by=Principal.system(), refund_id="",
                             succeeded=False, message=exc.message)  # fmt: skip
    return refund_settle(
        payment_id=payment.pk,
        by=Principal.system(),
        refund_id=refund.id,
        succeeded=refund.status in ("succeeded", "pending"),
        message="",
    )


@action("payment.refund_settle")
def refund_settle(*, payment_id: int, by, refund_id: str, succeeded: bool, message: str):
    """System: record Stripe's answer to a refund."""
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="record refunds")
    state = Payment.State.SUCCEEDED if succeeded else Payment.State.FAILED
    now = timezone.now()
    with transaction.atomic():
        moved = Payment.objects.filter(pk=payment_id, state=Payment.State.PENDING).update(
            state=state,
            stripe_refund_id=refund_id[:100],
            failure_message=message,
            settled_at=now if succeeded else None,
            updated_at=now,
            lease_until=None,
        )
        payment = Payment.objects.select_related("customer", "invoice").get(pk=payment_id)
        if moved != 1:
            return payment
        record(
            by=by,
            action="payment.refunded" if succeeded else "payment.refund_failed",
            customer=payment.customer,
            target=payment.invoice,
            after={"refund": payment.pk, "amount": str(payment.amount), "state": state},
            note=message,
        )
    return payment


# --- Webhooks and the reconciler ------------------------------------------------------------

HANDLED_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.canceled",
}


def stripe_event_handle(*, event: dict) -> bool:
    """Apply one verified Stripe event; False when its id was seen before (a redelivery)."""
    from django.db import IntegrityError

    from billing.payments.models import StripeEvent

    event_id = str(event.get("id") or "")[:100]
    event_type = str(event.get("type") or "")[:100]
    if not event_id:
        raise ValueError("The event has no id.")
    try:
        with transaction.atomic():
            StripeEvent.objects.create(event_id=event_id, type=event_type)
            if event_type in HANDLED_EVENTS:
                _apply_payment_intent(event_type, (event.get("data") or {}).get("object") or {})
    except IntegrityError:
        return False
    return True


def _apply_payment_intent(event_type: str, intent: dict) -> None:
    payment = (
        Payment.objects.filter(
            kind=Payment.Kind.CHARGE, stripe_payment_intent_id=str(intent.get("id") or "")
        )
        .only("pk", "state")
        .first()
    )
    if payment is None:
        # The webhook may beat the charge's own answer: find the row by the metadata we sent.
        payment_pk = str((intent.get("metadata") or {}).get("portal_payment_id") or "")
        payment = (
            Payment.objects.filter(pk=int(payment_pk)).first() if payment_pk.isdigit() else None
        )
    if payment is None:
        return
    if event_type == "payment_intent.succeeded" and payment.state == Payment.State.CANCELED:
        # Paid after it was replaced (its cancel never reached Stripe, or came too late).
        replaced_charge_refund(payment_id=payment.pk, by=Principal.system())
        return
    error = intent.get("last_payment_error") or {}
    payment_settle(
        payment_id=payment.pk,
        by=Principal.system(),
        status=str(intent.get("status") or ""),
        payment_intent_id=str(intent.get("id") or ""),
        client_secret=str(intent.get("client_secret") or ""),
        error_code=str(error.get("code") or ""),
        error_message=str(error.get("message") or ""),
    )


def payment_refresh(*, payment: Payment) -> Payment | None:
    """Ask Stripe for a charge's PaymentIntent and record its state (reconciler, return page)."""
    if not payment.stripe_payment_intent_id:
        return payment
    intent = stripe_client.payment_intent_get(payment.stripe_payment_intent_id)
    return payment_settle(
        payment_id=payment.pk,
        by=Principal.system(),
        status=intent.status,
        payment_intent_id=intent.id,
        error_code=intent.error_code,
        error_message=intent.error_message,
    )


def payments_to_reconcile(*, now=None, older_than_seconds: int | None = None):
    """Charges whose answer or webhook never came: pending past their lease (or never claimed),
    and 3-D Secure waits the customer may have finished in the browser. Both untouched for
    `older_than_seconds` (default: the PAYMENT_RECONCILE_GRACE setting)."""
    now = now or timezone.now()
    if older_than_seconds is None:
        older_than_seconds = settings.PAYMENT_RECONCILE_GRACE
    cutoff = now - timedelta(seconds=older_than_seconds)
    pending = Payment.objects.filter(state=Payment.State.PENDING, updated_at__lt=cutoff).filter(
        _lease_free(now)
    )
    waiting = Payment.objects.filter(
        state=Payment.State.ACTION_NEEDED, kind=Payment.Kind.CHARGE, updated_at__lt=cutoff
    ).exclude(stripe_payment_intent_id="")
    return list(pending.values_list("pk", "kind")), list(waiting.values_list("pk", flat=True))
