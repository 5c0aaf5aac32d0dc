"""Usage and invoice pages for customers; the billing overview and drill-down for staff."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing import rating, selectors, services
from billing.documents import pdf
from billing.exports import invoice_csv_response, spreadsheet_safe
from billing.forms import AdjustmentForm, CreditForm
from billing.models import Invoice
from billing.payments.selectors import payment_status
from portal.actions import Principal, Refused
from portal.customers.decorators import customer_required
from portal.customers.models import BILLING_ROLES, Customer
from portal.staff.decorators import staff_required

billing_member_required = customer_required(
    BILLING_ROLES, denied="Only owners, admins and billing members can see usage and invoices."
)


def _period(request: HttpRequest):
    now = timezone.now()
    try:
        return selectors.parse_period(request.GET.get("period"), now=now), now
    except selectors.PeriodError as exc:
        messages.error(request, f"{exc} Showing the current month.")
        return rating.month_of(now), now


@require_GET
@billing_member_required
def usage(request: HttpRequest) -> HttpResponse:
    (month_start, month_end), now = _period(request)
    try:
        page = selectors.usage_page_for(
            customer=request.customer,
            month_start=month_start,
            month_end=month_end,
            now=now,
            page_number=request.GET.get("page"),
        )
    except services.BillingError as exc:
        messages.error(request, f"Usage cannot be priced right now: {exc.message}")
        page = selectors.UsagePage(month_start, month_end, [])
    periods = selectors.recent_periods(now=now, since=request.customer.created_at)
    context = {"page": page, "periods": periods}
    return render(request, "billing/usage.html", {**context, "period": f"{month_start:%Y-%m}"})


@require_GET
@billing_member_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = selectors.invoices_for(customer=request.customer)
    return render(request, "billing/invoice_list.html", {"invoices": invoices})


@require_GET
@billing_member_required
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(customer=request.customer, pk=pk)
    lines = selectors.invoice_lines(invoice=invoice)
    return render(request, "billing/invoice_detail.html", {"invoice": invoice, "lines": lines})


@require_GET
@billing_member_required
def invoice_csv(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(customer=request.customer, pk=pk)
    return invoice_csv_response(invoice, selectors.invoice_lines(invoice=invoice))


@require_GET
@billing_member_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return _pdf_response(selectors.invoice_get(customer=request.customer, pk=pk))


@require_GET
@staff_required
def staff_invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return _pdf_response(selectors.staff_invoice_get(pk=pk))


def _pdf_response(invoice: Invoice) -> HttpResponse:
    response = HttpResponse(pdf.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf.filename_for(invoice)}"'
    return response


@require_GET
@billing_member_required
def line_detail(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(customer=request.customer, pk=pk)
    return _line_page(request, invoice, line_pk)


@require_GET
@staff_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    (month_start, _), now = _period(request)
    if request.GET.get("format") == "csv":
        return _overview_csv_response(selectors.staff_overview_export(month_start=month_start))
    from provisioning.services.orphans import orphans_cost_lines

    overview = selectors.staff_overview(
        month_start=month_start,
        invoice_page=request.GET.get("page"),
        metered_page=request.GET.get("metered_page"),
    )
    context = {
        "overview": overview,
        "orphan_costs": orphans_cost_lines(),
        "periods": selectors.recent_periods(now=now),
        "period": f"{month_start:%Y-%m}",
    }
    return render(request, "billing/staff_overview.html", context)


@require_GET
@staff_required
def staff_customer(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=customer_pk)
    (month_start, month_end), now = _period(request)
    page = selectors.usage_page_for(
        customer=customer,
        month_start=month_start,
        month_end=month_end,
        now=now,
        page_number=request.GET.get("page"),
    )
    context = {
        "customer": customer,
        "page": page,
        "documents": selectors.staff_customer_documents(customer=customer),
        "periods": selectors.recent_periods(now=now, since=customer.created_at),
        "period": f"{month_start:%Y-%m}",
    }
    return render(request, "billing/staff_customer.html", context)


@require_GET
@staff_required
def staff_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.staff_invoice_get(pk=pk)
    finalized = invoice.kind == Invoice.Kind.INVOICE and invoice.status == Invoice.Status.FINALIZED
    status = payment_status(invoice)[0] if finalized else None
    context = {
        "invoice": invoice,
        "lines": selectors.invoice_lines(invoice=invoice),
        "staff_view": True,
        "status": status,
        "problems": services.invoice_verify(invoice=invoice)
        if invoice.kind == Invoice.Kind.INVOICE
        else [],
        "adjustment_form": AdjustmentForm(),
        "credit_form": CreditForm(),
    }
    return render(request, "billing/invoice_detail.html", context)


@require_POST
@staff_required
def staff_invoice_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Finalize a draft, add an adjustment to it, or credit a finalized invoice."""
    invoice = selectors.staff_invoice_get(pk=pk)
    form = {"adjust": AdjustmentForm, "credit": CreditForm}.get(action, Form)(request.POST)
    if action not in ("finalize", "adjust", "credit") or not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()) or action
        messages.error(request, f"Nothing done: {errors}")
        return redirect("billing:staff_invoice", pk=invoice.pk)
    by = Principal.from_request(request)
    try:
        if action == "finalize":
            done = services.invoice_finalize(invoice_id=invoice.pk, actor=by)
            messages.success(request, f"Finalized as {done.number}.")
        elif action == "adjust":
            services.invoice_add_adjustment(invoice_id=invoice.pk, actor=by, **form.cleaned_data)
            messages.success(request, "Adjustment added.")
        else:
            note = services.invoice_credit(invoice_id=invoice.pk, actor=by, **form.cleaned_data)
            messages.success(request, f"Credit note {note.number} issued.")
            return redirect("billing:staff_invoice", pk=note.pk)
    except services.BillingError as exc:
        messages.error(request, exc.message)
    except Refused as exc:
        messages.error(request, exc.message_text)
    return redirect("billing:staff_invoice", pk=invoice.pk)


@require_GET
@staff_required
def staff_invoice_csv(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.staff_invoice_get(pk=pk)
    return invoice_csv_response(invoice, selectors.invoice_lines(invoice=invoice))


@require_GET
@staff_required
def staff_line_detail(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    return _line_page(request, selectors.staff_invoice_get(pk=pk), line_pk, staff_view=True)


def _line_page(request, invoice, line_pk, *, staff_view: bool = False) -> HttpResponse:
    line = selectors.line_get(invoice=invoice, pk=line_pk)
    samples, gaps = selectors.line_evidence(line=line)
    context = {"invoice": invoice, "line": line, "samples": samples, "gaps": gaps}
    return render(request, "billing/line_detail.html", {**context, "staff_view": staff_view})


def _overview_csv_response(overview) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"billing-{overview.month_start:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(
        ["customer", "document", "kind", "status", "currency", "total", "metered", "unit"]
    )
    for invoice in overview.invoices:
        writer.writerow(
            [
                spreadsheet_safe(invoice.customer.name), invoice.number or f"draft-{invoice.pk}",
                invoice.kind, invoice.status, invoice.currency, invoice.display_total, "", "",
            ]
        )  # fmt: skip
    # Every customer with usage, invoiced or not: the rollup estimate (see the page's note).
    for row in overview.metered:
        writer.writerow(
            [
                spreadsheet_safe(row["customer_name"]), "", "metered_estimate", "", row["currency"],
                row["estimate"], row["quantity"], f"{row['unit']}-month",
            ]
        )  # fmt: skip
    return response
