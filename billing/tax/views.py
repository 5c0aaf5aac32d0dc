"""The customer's billing details page and the staff tax rates page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing.tax import selectors, services
from billing.tax.forms import BillingProfileForm, TaxRateForm
from portal.actions import Principal, Refused
from portal.customers.decorators import customer_required
from portal.customers.models import BILLING_ROLES
from portal.staff.decorators import staff_required


def _show_refusal(form, refusal: Refused) -> None:
    if hasattr(refusal, "error_dict"):
        for name, errors in refusal.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, refusal.message_text)


@require_http_methods(["GET", "POST"])
@customer_required(BILLING_ROLES, denied="Only owners, admins and billing members see this.")
def billing_details(request: HttpRequest) -> HttpResponse:
    profile = selectors.profile_for(customer=request.customer)
    if request.method == "POST":
        form = BillingProfileForm(request.POST)
        if form.is_valid():
            try:
                services.billing_profile_update(
                    customer=request.customer,
                    by=Principal.from_request(request),
                    **form.cleaned_data,
                )
            except Refused as refusal:
                _show_refusal(form, refusal)
            else:
                messages.success(request, "Billing details saved; the next invoice uses them.")
                return redirect("billing:details")
    else:
        initial = services.profile_initial(customer=request.customer, profile=profile)
        form = BillingProfileForm(initial=initial)
    context = {"form": form, "profile": profile, "can_edit": request.membership.can_manage}
    return render(request, "billing/details.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def staff_tax_rates(request: HttpRequest) -> HttpResponse:
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate = services.tax_rate_save(by=Principal.from_request(request), **form.cleaned_data)
        except Refused as refusal:
            _show_refusal(form, refusal)
        else:
            messages.success(request, f"Saved: {rate}.")
            return redirect("billing:staff_tax_rates")
    context = {"form": form, "rates": selectors.tax_rates(), "msp_country": services.seller_facts()}
    return render(request, "billing/staff_tax_rates.html", context)
