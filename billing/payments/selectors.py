"""Reads the pages, the API and order placement share; always scoped to one customer first."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch

from billing.models import Invoice
from billing.payments.models import Payment, PaymentAccount


def account_find(*, customer) -> PaymentAccount | None:
    return PaymentAccount.objects.filter(customer_id=customer.pk).first()


def may_order(*, customer) -> bool:
    """A card on file or invoice terms; always true when payment methods are not required."""
    if not settings.PAYMENT_METHOD_REQUIRED:
        return True
    account = account_find(customer=customer)
    return account is not None and account.may_order


def payments_for(*, customer):
    return Payment.objects.filter(customer_id=customer.pk).select_related("invoice")


def payment_get(*, customer, pk: int) -> Payment:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(payments_for(customer=customer), pk=pk)


def invoices_with_payments_for(*, customer):
    """The customer's finalized invoices with their payments (one extra query for all rows)."""
    return (
        Invoice.objects.filter(customer_id=customer.pk, status=Invoice.Status.FINALIZED)
        .prefetch_related(
            Prefetch("payments", queryset=Payment.objects.order_by("-attempt", "-id"))
        )
        .order_by("-period_start", "-id")
    )


def payment_status(invoice: Invoice) -> tuple[str, Payment | None]:
    """(status word, the payment it comes from) for a finalized invoice with prefetched payments.

    Words: paid, action_needed, pending, refunded (credit notes), unpaid (no card charge:
    invoice terms or no card), nothing_due (a zero invoice).
    """
    payments = list(invoice.payments.all())
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        refund = next((p for p in payments if p.kind == Payment.Kind.REFUND), None)
        if refund is None:
            return "nothing_due", None
        return ("refunded" if refund.state == Payment.State.SUCCEEDED else "pending"), refund
    if invoice.total <= 0:
        return "nothing_due", None
    paid = next(
        (
            p
            for p in payments
            if p.state == Payment.State.SUCCEEDED and p.kind != Payment.Kind.REFUND
        ),
        None,
    )
    if paid is not None:
        return "paid", paid
    open_payment = next((p for p in payments if p.is_open and p.kind != Payment.Kind.REFUND), None)
    if open_payment is None:
        return "unpaid", None
    if open_payment.state == Payment.State.ACTION_NEEDED:
        return "action_needed", open_payment
    return "pending", open_payment


def staff_payments(*, states=None):
    rows = Payment.objects.select_related("customer", "invoice", "invoice__dunning").order_by(
        "-created_at", "-id"
    )
    if states:
        rows = rows.filter(state__in=states)
    return rows
