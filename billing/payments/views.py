"""Customer pages (payment method, invoices' payments, 3-D Secure), staff pages, Stripe webhook."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing.models import Invoice
from billing.payments import selectors, services, stripe_client
from billing.payments.forms import CardSavedForm, ManualPaymentForm, TermsForm
from billing.payments.models import Payment
from portal.actions import Principal, Refused
from portal.customers.decorators import customer_required
from portal.customers.models import BILLING_ROLES, Customer
from portal.staff.decorators import staff_required

logger = logging.getLogger(__name__)
PAGE_SIZE = 50

billing_member_required = customer_required(
    BILLING_ROLES, denied="Only owners, admins and billing members can manage payments."
)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


@billing_member_required
def payment_method(request: HttpRequest) -> HttpResponse:
    """Show the saved card; Stripe.js confirms a SetupIntent and posts its id back here."""
    if request.method == "POST":
        return _card_saved(request)
    account = selectors.account_find(customer=request.customer)
    context = {"account": account, "next": _next_url(request), "setup": None}
    if stripe_client.is_configured():
        try:
            context["setup"] = services.card_setup_start(
                customer=request.customer, by=Principal.from_request(request)
            )
        except stripe_client.StripeError as exc:
            messages.error(request, f"Cards cannot be saved right now: {exc.message}")
        context["publishable_key"] = settings.STRIPE_PUBLISHABLE_KEY
        context["stripe_js_url"] = settings.STRIPE_JS_URL
    return render(request, "payments/payment_method.html", context)


def _card_saved(request: HttpRequest) -> HttpResponse:
    form = CardSavedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The card form expired; enter the card again.")
        return redirect("payments:payment_method")
    try:
        account = services.payment_method_save(
            customer=request.customer,
            by=Principal.from_request(request),
            setup_intent_id=form.cleaned_data["setup_intent"],
        )
    except Refused as exc:
        messages.error(request, exc.message_text)
        return redirect("payments:payment_method")
    except stripe_client.StripeError as exc:
        messages.error(request, f"The card could not be saved: {exc.message}")
        return redirect("payments:payment_method")
    messages.success(request, f"Card saved: {account.card_label}.")
    return redirect(_next_url(request) or "payments:invoices")


@require_GET
@billing_member_required
def invoices(request: HttpRequest) -> HttpResponse:
    rows = selectors.invoices_with_payments_for(customer=request.customer)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    statuses = [(invoice, *selectors.payment_status(invoice)) for invoice in page.object_list]
    context = {
        "rows": statuses,
        "page": page,
        "account": selectors.account_find(customer=request.customer),
    }
    return render(request, "payments/invoices.html", context)


@billing_member_required
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The "action needed" link: finish 3-D Secure in the browser, or pay with a new card."""
    payment = selectors.payment_get(customer=request.customer, pk=pk)
    if request.method == "POST" and payment.stripe_payment_intent_id:
        # Back from Stripe.js: read the PaymentIntent's state rather than wait for the webhook.
        try:
            payment = services.payment_refresh(payment=payment)
        except stripe_client.StripeError as exc:
            messages.error(request, f"The payment's state could not be read: {exc.message}")
        return redirect("payments:payment", pk=pk)
    context = {
        "payment": payment,
        "account": selectors.account_find(customer=request.customer),
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
    }
    return render(request, "payments/payment.html", context)


@require_POST
@billing_member_required
def invoice_pay(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(
        Invoice.objects.filter(customer_id=request.customer.pk, status=Invoice.Status.FINALIZED),
        pk=pk,
    )
    try:
        payment = services.payment_retry(invoice=invoice, by=Principal.from_request(request))
    except Refused as exc:
        messages.error(request, exc.message_text)
        return redirect("payments:invoices")
    messages.success(request, f"Payment of {invoice.number} sent with your card on file.")
    return redirect("payments:payment", pk=payment.pk)


# --- Staff ----------------------------------------------------------------------------------

STAFF_FILTERS = {
    "all": None,
    "failures": [Payment.State.ACTION_NEEDED, Payment.State.FAILED],
    "pending": [Payment.State.PENDING],
}


@require_GET
@staff_required
def staff_payments(request: HttpRequest) -> HttpResponse:
    shown = request.GET.get("show", "all")
    if shown not in STAFF_FILTERS:
        shown = "all"
    rows = selectors.staff_payments(states=STAFF_FILTERS[shown])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "payments": page.object_list,
        "shown": shown,
        "reminder_count": len(settings.DUNNING_REMINDER_DAYS),
    }
    return render(request, "payments/staff_payments.html", context)


@staff_required
def staff_manual_payment(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(
        Invoice.objects.select_related("customer").filter(
            kind=Invoice.Kind.INVOICE, status=Invoice.Status.FINALIZED
        ),
        pk=pk,
    )
    form = ManualPaymentForm(request.POST or None, initial={"amount": invoice.display_total})
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_manual_record(
                invoice=invoice, by=Principal.from_request(request), **form.cleaned_data
            )
        except Refused as exc:
            messages.error(request, exc.message_text)
        else:
            messages.success(request, f"Bank transfer recorded against {invoice.number}.")
            return redirect("payments:staff_payments")
    context = {"invoice": invoice, "form": form}
    return render(request, "payments/staff_manual_payment.html", context)


@require_POST
@staff_required
def staff_terms(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=customer_pk)
    form = TermsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the change of payment terms.")
        return redirect("staff:customer", pk=customer.pk)
    try:
        services.payment_terms_set(
            customer=customer, by=Principal.from_request(request), **form.cleaned_data
        )
    except Refused as exc:
        messages.error(request, exc.message_text)
    else:
        word = "granted" if form.cleaned_data["invoice_terms"] else "withdrawn"
        messages.success(request, f"Invoice terms {word} for {customer}.")
    return redirect("staff:customer", pk=customer.pk)


# --- Stripe -----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events: verified by signature, deduplicated by event id (docs/payments.md)."""
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = stripe_client.event_from_webhook(request.body, signature)
    except ValueError:
        logger.warning("A Stripe webhook with a bad signature was refused.")
        return HttpResponse("Bad signature.", status=400, content_type="text/plain")
    try:
        services.stripe_event_handle(event=event)
    except ValueError:
        return HttpResponse("Bad event.", status=400, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
