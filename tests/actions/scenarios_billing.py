"""Matrix scenarios of billing: invoices, plan changes, payments and tax rates.

The rules are docs/staff.md's ("Who may do what"). Stripe is faked at the portal's own seam
(`billing.payments.stripe_client`), as the lucid CLI is faked at its runner: the matrix checks the
actions' rules, and tests/billing/payments checks the conversation with (local)stripe.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tests.actions.kit import (
    BILLING_ROLES,
    BILLING_USERS,
    MSP,
    NO_CUSTOMER,
    PAYERS,
    EntryPoint,
    Scenario,
    admin,
    api,
    fn,
    no_args,
    service,
    staff,
    web,
)

MSP_OR_SYSTEM = lambda role, state: role in MSP | {"system"}  # noqa: E731
MSP_ONLY = lambda role, state: role in MSP  # noqa: E731
# Paying what is owed stays possible in every state: a suspended customer pays to be resumed,
# and a terminated one still owes its last invoices.
PAYERS_MSP_SYSTEM = lambda role, state: role in PAYERS | MSP | {"system"}  # noqa: E731
STRIPE_CUSTOMER = "cus_matrix"


# --- Invoices ------------------------------------------------------------------------------


def _draft_invoice(world):
    from billing.models import Invoice, InvoiceLine

    invoice = Invoice.objects.create(
        customer=world.customer, period_start=date(2026, 10, 1), currency="EUR"
    )
    InvoiceLine.objects.create(
        invoice=invoice, position=1, kind=InvoiceLine.Kind.ADJUSTMENT, description="Storage",
        amount=Decimal("12.34"),
    )  # fmt: skip
    return invoice


def _finalized_invoice(world):
    """A draft finalized by the real action (as the system), before the case's counts start."""
    from portal.actions import Principal

    invoice = _draft_invoice(world)
    return fn("invoice.finalize")(invoice_id=invoice.pk, actor=Principal.system())


def _invoice_state(invoice, world):
    from billing.models import Invoice

    row = Invoice.objects.values_list("status", "number", "total").get(pk=invoice.pk)
    return row, list(invoice.lines.values_list("amount", flat=True))


def _credit_notes(invoice, world):
    from billing.models import Invoice

    notes = Invoice.objects.filter(credits=invoice)
    return list(notes.values_list("status", "number", "total")), _invoice_state(invoice, world)


def _invoice_action(verb: str):
    return lambda invoice: [invoice.pk, verb]


ADJUSTMENT = {"description": "Goodwill", "amount": "-2.00", "reason": "Outage on the 3rd"}
CREDIT = {"amount": "1.50", "reason": "Outage on the 3rd"}


# --- Plan changes --------------------------------------------------------------------------


def _filespace_and_plan(world, *, needs_approval: bool):
    """An active filespace and a second plan that fits it (same storage, its region offered)."""
    current = world.factories.plan()
    target = world.factories.plan(plan_change_needs_approval=needs_approval)
    filespace = world.factories.filespace(
        customer=world.customer, plan=current, state="active", remote_id="fs-1"
    )
    return filespace, target


def _filespace_with_target(world):
    filespace, target = _filespace_and_plan(world, needs_approval=False)
    filespace.target_plan = target
    return filespace


def _filespace_with_approval_target(world):
    filespace, target = _filespace_and_plan(world, needs_approval=True)
    filespace.target_plan = target
    return filespace


def _pending_change(world):
    from billing.models import PlanChange

    filespace, target = _filespace_and_plan(world, needs_approval=True)
    return PlanChange.objects.create(
        filespace=filespace, from_plan=filespace.plan, to_plan=target,
        state=PlanChange.State.PENDING, requested_by=world.people["owner"],
        requested_by_label="owner@acme.example",
    )  # fmt: skip


def _plan_of(filespace_id):
    from billing.models import PlanChange
    from provisioning.models import Filespace

    changes = PlanChange.objects.filter(filespace_id=filespace_id).order_by("id")
    plan = Filespace.objects.values_list("plan_id", flat=True).get(pk=filespace_id)
    return plan, list(changes.values_list("state", flat=True))


def _filespace_plan(filespace, world):
    return _plan_of(filespace.pk)


def _change_plan(change, world):
    return _plan_of(change.filespace_id)


# A customer moves its own filespaces while active; MSP staff and the system at any time.
CHANGE_PLAN = lambda role, state: (  # noqa: E731
    role in MSP | {"system"} or (role in PAYERS and state == "active")
)


# --- Payments (Stripe faked at billing.payments.stripe_client) -----------------------------


class FakeStripe:
    """What Stripe answers when every card works; patched in by the scenarios that need it."""

    @staticmethod
    def install(world) -> None:
        from billing.payments import stripe_client

        for name in ("is_configured", "setup_intent_get", "card_make_default",
                     "payment_intent_get"):  # fmt: skip
            world.monkeypatch.setattr(stripe_client, name, getattr(FakeStripe, name))

    @staticmethod
    def is_configured() -> bool:
        return True

    @staticmethod
    def setup_intent_get(setup_intent_id: str):
        from billing.payments.stripe_client import SetupIntent

        return SetupIntent(id=setup_intent_id, client_secret="seti_secret", status="succeeded",
                           customer_id=STRIPE_CUSTOMER, payment_method_id="pm_matrix")  # fmt: skip

    @staticmethod
    def card_make_default(*, customer_id: str, payment_method_id: str):
        from billing.payments.stripe_client import Card

        return Card(payment_method_id=payment_method_id, customer_id=customer_id, brand="visa",
                    last4="4242", exp_month=12, exp_year=2031)  # fmt: skip

    @staticmethod
    def payment_intent_get(payment_intent_id: str):
        from billing.payments.stripe_client import PaymentIntent

        return PaymentIntent(id=payment_intent_id, status="succeeded", client_secret="",
                             error_code="", error_message="")  # fmt: skip


def _account(world, *, card: bool):
    from billing.payments.models import PaymentAccount

    card_fields = {}
    if card:
        card_fields = {"payment_method_id": "pm_old", "card_brand": "visa", "card_last4": "0341",
                       "card_exp_month": 1, "card_exp_year": 2030}  # fmt: skip
    return PaymentAccount.objects.create(
        customer=world.customer, stripe_customer_id=STRIPE_CUSTOMER, **card_fields
    )


def _card_account(world):
    FakeStripe.install(world)
    _account(world, card=False)
    return world.customer


def _card(customer, world):
    from billing.payments.models import PaymentAccount

    return list(
        PaymentAccount.objects.filter(customer=customer).values_list(
            "payment_method_id", "card_last4"
        )
    )


def _terms(customer, world):
    from billing.payments.models import PaymentAccount

    return list(PaymentAccount.objects.filter(customer=customer).values_list("invoice_terms"))


def _payment(invoice, *, kind="charge", state="action_needed", attempt=1, **extra):
    from billing.payments.models import Payment

    return Payment.objects.create(
        customer_id=invoice.customer_id, invoice=invoice, kind=kind, attempt=attempt,
        amount=invoice.display_total.copy_abs(), currency=invoice.currency, state=state,
        idempotency_key=f"matrix-{invoice.pk}-{kind}-{attempt}", **extra,
    )  # fmt: skip


def _payments(invoice, world):
    from billing.payments.models import Payment

    rows = Payment.objects.filter(invoice=invoice).order_by("id")
    return list(rows.values_list("kind", "attempt", "state"))


def _chargeable_invoice(world):
    """A finalized invoice of a customer with a card and no charge yet (Stripe configured)."""
    invoice = _finalized_invoice(world)  # before Stripe is faked: finalizing opens no charge
    FakeStripe.install(world)
    _account(world, card=True)
    return invoice


def _declined_invoice(world):
    """A finalized invoice whose first card charge waits for the customer (3-D Secure)."""
    invoice = _finalized_invoice(world)
    FakeStripe.install(world)
    _account(world, card=True)
    _payment(invoice, stripe_payment_intent_id="pi_matrix")
    return invoice


def _waiting_payment(world):
    from billing.payments.models import Payment

    invoice = _declined_invoice(world)
    return Payment.objects.get(invoice=invoice)


def _pending_charge(world):
    """The first charge of a finalized invoice, sent to Stripe and not answered yet."""
    invoice = _finalized_invoice(world)
    return _payment(invoice, state="pending")


def _replaced_paid_charge(world):
    """A 3-D Secure charge replaced by a retry, whose PaymentIntent succeeded at Stripe anyway."""
    invoice = _finalized_invoice(world)
    return _payment(invoice, state="canceled", stripe_payment_intent_id="pi_replaced")


def _payment_state(payment, world):
    return _payments(payment.invoice, world)


def _card_paid_credit_note(world):
    """A credit note (finalized as a document, before its refund was asked for) against an
    invoice paid by card."""
    from billing.models import Invoice, InvoiceLine

    original = _finalized_invoice(world)
    _payment(original, state="succeeded", stripe_payment_intent_id="pi_paid")
    note = Invoice.objects.create(
        customer=world.customer, kind=Invoice.Kind.CREDIT_NOTE, period_start=original.period_start,
        currency=original.currency, credits=original, reason="Outage",
    )  # fmt: skip
    InvoiceLine.objects.create(
        invoice=note, position=1, kind=InvoiceLine.Kind.CREDIT, description="Credit",
        amount=Decimal("-1.50"),
    )  # fmt: skip
    Invoice.objects.filter(pk=note.pk).update(
        status=Invoice.Status.FINALIZED, number="CN-900001", total=Decimal("-1.50")
    )
    note.refresh_from_db()
    return note


def _pending_refund(world):
    from billing.payments.models import Payment

    note = _card_paid_credit_note(world)
    return _payment(note, kind=Payment.Kind.REFUND, state="pending",
                    stripe_payment_intent_id="pi_paid")  # fmt: skip


def _open_dunning(world):
    """An unpaid invoice whose charge failed two days ago: the first reminder is due."""
    from django.utils import timezone

    from billing.payments.models import Dunning

    invoice = _declined_invoice(world)
    return Dunning.objects.create(
        invoice=invoice, customer=world.customer, started_at=timezone.now() - timedelta(days=2)
    )


def _reminders(dunning, world):
    from billing.payments.models import Dunning

    return Dunning.objects.values_list("reminders_sent", "suspended_at").get(pk=dunning.pk)


# --- Tax rates -------------------------------------------------------------------------------

TAX_RATE = {"country": "DE", "name": "MwSt", "percent": "19", "valid_from": "2031-01-01"}


def _tax_rates(obj, world):
    from billing.tax.models import TaxRate

    return list(TaxRate.objects.order_by("id").values_list("country", "name", "percent"))


def _save_tax_rate(world, obj, by):
    fn("tax_rate.save")(by=by, **{**TAX_RATE, "valid_from": date(2031, 1, 1)})


def _nothing(world):
    return None


# --- Scenarios -------------------------------------------------------------------------------

BILLING_SCENARIOS: dict[str, Scenario] = {
    # Invoices: billing goes on while a customer is suspended, and a terminated customer still
    # gets (and may be credited on) its last invoices, so no customer state is refused.
    "invoice.finalize": Scenario(
        action="invoice.finalize",
        audit="invoice.finalized",
        event="invoice.finalized",
        make=_draft_invoice,
        snapshot=_invoice_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, invoice, by: fn("invoice.finalize")(invoice_id=invoice.pk, actor=by),
        url_args=_invoice_action("finalize"),
        entry_points=(
            service(),
            staff("billing:staff_invoice_action"),
            admin("billing.invoice:finalize"),
        ),
    ),
    "invoice.adjust": Scenario(
        action="invoice.adjust",
        audit="invoice.adjusted",
        event=None,
        make=_draft_invoice,
        snapshot=_invoice_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, invoice, by: fn("invoice.adjust")(
            invoice_id=invoice.pk, actor=by, **ADJUSTMENT
        ),
        body=lambda invoice: dict(ADJUSTMENT),
        url_args=_invoice_action("adjust"),
        entry_points=(service(), staff("billing:staff_invoice_action")),
    ),
    "invoice.credit": Scenario(
        action="invoice.credit",
        # The credit note is then finalized by invoice.finalize, which audits and announces it.
        audit=("invoice.credited", "invoice.finalized"),
        event="invoice.finalized",
        make=_finalized_invoice,
        snapshot=_credit_notes,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, invoice, by: fn("invoice.credit")(
            invoice_id=invoice.pk, actor=by, **CREDIT
        ),
        body=lambda invoice: dict(CREDIT),
        url_args=_invoice_action("credit"),
        entry_points=(service(), staff("billing:staff_invoice_action")),
    ),
    # --- Plan changes -----------------------------------------------------------------------
    "filespace.change_plan": Scenario(
        action="filespace.change_plan",
        audit="filespace.plan_changed",
        event="filespace.plan_changed",
        make=_filespace_with_target,
        snapshot=_filespace_plan,
        allowed=CHANGE_PLAN,
        call=lambda world, filespace, by: fn("filespace.change_plan")(
            filespace=filespace, plan=filespace.target_plan, by=by
        ),
        body=lambda filespace: {"plan": filespace.target_plan.pk},
        entry_points=(
            service(BILLING_ROLES),
            web("filespaces:change_plan", BILLING_USERS),
            staff("staff:filespace_change_plan"),
            api("api:filespace-plan-change"),
        ),
    ),
    # Onto a plan that asks for approval, a customer's move waits for staff (MSP staff and the
    # system move it at once: the scenario above). Customer-side principals only.
    "filespace.change_plan:approval": Scenario(
        action="filespace.change_plan",
        audit="filespace.plan_change_requested",
        event="filespace.plan_change_requested",
        make=_filespace_with_approval_target,
        snapshot=_filespace_plan,
        allowed=CHANGE_PLAN,
        call=lambda world, filespace, by: fn("filespace.change_plan")(
            filespace=filespace, plan=filespace.target_plan, by=by
        ),
        body=lambda filespace: {"plan": filespace.target_plan.pk},
        entry_points=(
            service((*BILLING_USERS, "customer_key")),
            web("filespaces:change_plan", BILLING_USERS),
            EntryPoint("api", "api:filespace-plan-change", ("customer_key",)),
        ),
    ),
    "filespace.plan_change_approve": Scenario(
        action="filespace.plan_change_approve",
        audit="filespace.plan_changed",
        event="filespace.plan_changed",
        make=_pending_change,
        snapshot=_change_plan,
        allowed=lambda role, state: role in MSP | {"system"} and state == "active",
        entry_points=(service(), staff("staff:plan_change_approve")),
    ),
    "filespace.plan_change_reject": Scenario(
        action="filespace.plan_change_reject",
        audit="filespace.plan_change_rejected",
        event="filespace.plan_change_rejected",
        make=_pending_change,
        snapshot=_change_plan,
        allowed=MSP_OR_SYSTEM,
        service_kwargs={"reason": "Not this month"},
        body=lambda change: {"reason": "Not this month"},
        entry_points=(service(), staff("staff:plan_change_reject")),
    ),
    # --- Payments ---------------------------------------------------------------------------
    "payment_method.save": Scenario(
        action="payment_method.save",
        audit="payment_method.saved",
        event=None,
        make=_card_account,
        snapshot=_card,
        allowed=PAYERS_MSP_SYSTEM,
        service_kwargs={"setup_intent_id": "seti_matrix"},
        body=lambda customer: {"setup_intent": "seti_matrix"},
        url_args=no_args,
        entry_points=(service(BILLING_ROLES), web("payments:payment_method", BILLING_USERS)),
    ),
    "payment.terms_set": Scenario(
        action="payment.terms_set",
        audit="payment.terms_granted",
        event=None,
        make=lambda world: world.customer,
        snapshot=_terms,
        # Payment terms outlive a suspension (the customer is still billed).
        allowed=MSP_ONLY,
        service_kwargs={"invoice_terms": True, "reason": "Pays by bank transfer"},
        body=lambda customer: {"invoice_terms": "on", "reason": "Pays by bank transfer"},
        entry_points=(service(), staff("payments:staff_terms")),
    ),
    "payment.request": Scenario(
        action="payment.request",
        audit="payment.requested",
        event=None,
        make=_chargeable_invoice,
        snapshot=_payments,
        allowed=MSP_OR_SYSTEM,
        entry_points=(service(),),
    ),
    "payment.retry": Scenario(
        action="payment.retry",
        audit="payment.requested",
        event=None,
        make=_declined_invoice,
        snapshot=_payments,
        allowed=PAYERS_MSP_SYSTEM,
        entry_points=(service(BILLING_ROLES), web("payments:invoice_pay", BILLING_USERS)),
    ),
    "payment.settle": Scenario(
        action="payment.settle",
        audit="payment.succeeded",
        event="invoice.paid",
        make=_waiting_payment,
        snapshot=_payment_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, payment, by: fn("payment.settle")(
            payment_id=payment.pk, by=by, status="succeeded", payment_intent_id="pi_matrix"
        ),
        entry_points=(service(),),
    ),
    "payment.settle:declined": Scenario(
        action="payment.settle",
        audit="payment.action_needed",
        event="invoice.payment_failed",
        make=_pending_charge,
        snapshot=_payment_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, payment, by: fn("payment.settle")(
            payment_id=payment.pk,
            by=by,
            status="declined",
            payment_intent_id="pi_matrix",
            error_code="card_declined",
            error_message="Your card was declined.",
        ),
        entry_points=(service(),),
    ),
    # The return page after 3-D Secure reads the PaymentIntent and records it as the system
    # would (the answer is Stripe's, not the person's): whoever may see the payment may ask.
    "payment.settle:return_page": Scenario(
        action="payment.settle",
        audit="payment.succeeded",
        event="invoice.paid",
        make=_waiting_payment,
        snapshot=_payment_state,
        allowed=lambda role, state: role in PAYERS,
        entry_points=(web("payments:payment", BILLING_USERS),),
    ),
    "payment.refund_request": Scenario(
        action="payment.refund_request",
        audit="payment.refund_requested",
        event=None,
        make=_card_paid_credit_note,
        snapshot=_payments,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, note, by: fn("payment.refund_request")(credit_note=note, by=by),
        entry_points=(service(),),
    ),
    "payment.refund_settle": Scenario(
        action="payment.refund_settle",
        audit="payment.refunded",
        event=None,
        make=_pending_refund,
        snapshot=_payment_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, refund, by: fn("payment.refund_settle")(
            payment_id=refund.pk, by=by, refund_id="re_matrix", succeeded=True, message=""
        ),
        entry_points=(service(),),
    ),
    "payment.replaced_charge_refund": Scenario(
        action="payment.replaced_charge_refund",
        audit="payment.replaced_charge_refunded",
        event=None,
        make=_replaced_paid_charge,
        snapshot=_payment_state,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, charge, by: fn("payment.replaced_charge_refund")(
            payment_id=charge.pk, by=by
        ),
        entry_points=(service(),),
    ),
    "payment.manual_record": Scenario(
        action="payment.manual_record",
        audit="payment.manual_recorded",
        event="invoice.paid",
        make=_finalized_invoice,
        snapshot=_payments,
        # A suspended or terminated customer may still pay what it owes by bank transfer.
        allowed=MSP_ONLY,
        service_kwargs={"amount": "12.34", "reference": "TRF-2026-001"},
        body=lambda invoice: {"amount": "12.34", "reference": "TRF-2026-001"},
        entry_points=(service(), staff("payments:staff_manual_payment")),
    ),
    "dunning.advance": Scenario(
        action="dunning.advance",
        # Each reminder retries the card on file, through payment.retry, in its transaction.
        audit=("dunning.reminded", "payment.requested"),
        event=None,
        make=_open_dunning,
        snapshot=_reminders,
        allowed=MSP_OR_SYSTEM,
        call=lambda world, dunning, by: fn("dunning.advance")(dunning_id=dunning.pk, by=by),
        entry_points=(service(),),
    ),
    # --- Tax rates (no customer) -------------------------------------------------------------
    "tax_rate.save": Scenario(
        action="tax_rate.save",
        audit="tax_rate.saved",
        event=None,
        make=_nothing,
        snapshot=_tax_rates,
        allowed=MSP_ONLY,
        call=_save_tax_rate,
        body=lambda obj: dict(TAX_RATE),
        url_args=no_args,
        entry_points=(
            service(),
            staff("billing:staff_tax_rates"),
            admin("billing_tax.taxrate:save_model"),
        ),
        states=NO_CUSTOMER,
    ),
}
