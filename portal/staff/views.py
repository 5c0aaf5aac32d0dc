"""The MSP staff console: what needs attention, customers, approvals, provisioning, plans.

Every view is behind `staff_required` (and StaffMFAMiddleware for /staff/); every POST calls an
action (which checks, changes, audits and notifies) and shows its refusal as a message.
"""

import csv
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal.actions import Principal
from portal.customers import lifecycle
from portal.orders import services as orders
from portal.plans import services as plans
from portal.staff import selectors
from portal.staff.decorators import staff_required
from portal.staff.forms import CustomerFilterForm, OptionalReasonForm, PlanForm, ReasonForm
from provisioning import services as provisioning
from provisioning.services import ordering

PAGE_SIZE = 50
# The customer list is browsed and searched, 25 rows at a time, so its cost stays that of 25
# rows (two counting subqueries each) whatever the number of customers.
CUSTOMER_PAGE_SIZE = 25


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _run(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Call a service; report its outcome as a message. True when it succeeded."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return False
    messages.success(request, success)
    return True


def _reason(request: HttpRequest, *, required: bool) -> str | None:
    form = (ReasonForm if required else OptionalReasonForm)(request.POST)
    if form.is_valid():
        return form.cleaned_data["reason"]
    messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return None


def _back(request: HttpRequest, fallback: str, *args) -> HttpResponse:
    """Back to the page the form was on (only our own paths), else to `fallback`."""
    target = request.POST.get("next", "")
    if target.startswith("/staff/") and "//" not in target:
        return redirect(target)
    return redirect(fallback, *args)


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "attention": selectors.attention_counts(),
        "orders": selectors.orders_awaiting_approval()[:10],
        "filespaces": selectors.filespaces_needing_attention()[:10],
        "flags": selectors.open_billing_flags()[:10],
        "terminations": selectors.open_terminations(),
    }
    return render(request, "staff/dashboard.html", context)


@require_GET
@staff_required
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    customers = selectors.customers_search(
        query=filters.get("q", ""), status=filters.get("status", "")
    )
    page = Paginator(customers, CUSTOMER_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query_string": request.GET.urlencode()}
    return render(request, "staff/customer_list.html", context)


@require_GET
@staff_required
def customer_csv(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET)
    if not form.is_valid():
        # Better no file than a file silently holding more than the filter asked for.
        problems = " ".join(e for errs in form.errors.values() for e in errs)
        return HttpResponseBadRequest(f"Bad filter: {problems}", content_type="text/plain")
    customers = selectors.customers_search(
        query=form.cleaned_data["q"], status=form.cleaned_data["status"]
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["id", "name", "prefix", "status", "billing_email", "country", "members", "filespaces",
         "created_at"]
    )  # fmt: skip
    for c in customers.iterator(chunk_size=500):
        writer.writerow(
            [c.pk, _cell(c.name), c.name_prefix, c.status, _cell(c.billing_email), c.country,
             c.member_count or 0, c.filespace_count or 0, c.created_at.isoformat()]
        )  # fmt: skip
    return response


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in free text a customer typed."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@require_GET
@staff_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(pk=pk)
    page = selectors.customer_page(customer=customer, filespace_page=request.GET.get("page"))
    return render(request, "staff/customer_detail.html", {"page": page, "c": page.customer})


@require_POST
@staff_required
def customer_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(pk=pk)
    reason = _reason(request, required=True)
    if reason is not None:
        _run(
            request,
            lambda: lifecycle.customer_suspend(
                customer=customer, by=Principal.from_request(request), reason=reason
            ),
            f"{customer} is suspended.",
        )
    return redirect("staff:customer", pk)


@require_POST
@staff_required
def customer_resume(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(pk=pk)
    reason = _reason(request, required=False)
    if reason is not None:
        _run(
            request,
            lambda: lifecycle.customer_resume(
                customer=customer, by=Principal.from_request(request), reason=reason
            ),
            f"{customer} is active again.",
        )
    return redirect("staff:customer", pk)


@require_POST
@staff_required
def customer_terminate(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(pk=pk)
    reason = _reason(request, required=True)
    if reason is not None:
        _run(
            request,
            lambda: lifecycle.customer_termination_request(
                customer=customer, by=Principal.from_request(request), reason=reason
            ),
            f"Termination of {customer} requested; another staff member must approve it.",
        )
    return redirect("staff:customer", pk)


@require_POST
@staff_required
def termination_approve(request: HttpRequest, pk: int) -> HttpResponse:
    termination = selectors.termination_get(pk=pk)
    _run(
        request,
        lambda: lifecycle.customer_termination_approve(
            termination=termination, by=Principal.from_request(request)
        ),
        f"Termination of {termination.customer} approved; its filespaces will be deleted "
        "after the grace period.",
    )
    return _back(request, "staff:customer", termination.customer_id)


@require_POST
@staff_required
def termination_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    termination = selectors.termination_get(pk=pk)
    reason = _reason(request, required=False)
    if reason is not None:
        _run(
            request,
            lambda: lifecycle.customer_termination_cancel(
                termination=termination, by=Principal.from_request(request), reason=reason
            ),
            f"Termination of {termination.customer} cancelled.",
        )
    return _back(request, "staff:customer", termination.customer_id)


@require_GET
@staff_required
def order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.orders_awaiting_approval()
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "staff/order_list.html", {"page": page})


@require_POST
@staff_required
def order_approve(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(pk=pk)
    reason = _reason(request, required=False)
    if reason is not None:
        _run(
            request,
            lambda: ordering.order_approve(
                order=order, by=Principal.from_request(request), reason=reason
            ),
            f"Order {order.remote_name} approved; provisioning has started.",
        )
    return _back(request, "staff:orders")


@require_POST
@staff_required
def order_reject(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(pk=pk)
    reason = _reason(request, required=True)
    if reason is not None:
        _run(
            request,
            lambda: orders.order_reject(
                order=order, by=Principal.from_request(request), reason=reason
            ),
            f"Order {order.remote_name} rejected.",
        )
    return _back(request, "staff:orders")


@require_GET
@staff_required
def filespace_list(request: HttpRequest) -> HttpResponse:
    filespaces = selectors.filespaces_needing_attention()
    page = Paginator(filespaces, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "staff/filespace_list.html", {"page": page})


@require_GET
@staff_required
def filespace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.filespace_page(pk=pk)
    return render(request, "staff/filespace_detail.html", {"fs": page.filespace, "page": page})


@require_POST
@staff_required
def filespace_retry(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = selectors.filespace_get(pk=pk)
    _run(
        request,
        lambda: provisioning.filespace_retry(
            filespace=filespace, by=Principal.from_request(request)
        ),
        f"{filespace.remote_name} is being retried.",
    )
    return _back(request, "staff:filespaces")


@require_POST
@staff_required
def filespace_fail(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = selectors.filespace_get(pk=pk)
    reason = _reason(request, required=True)
    if reason is not None:
        _run(
            request,
            lambda: provisioning.filespace_force_fail(
                filespace=filespace, by=Principal.from_request(request), reason=reason
            ),
            f"{filespace.remote_name} was marked failed.",
        )
    return _back(request, "staff:filespaces")


@require_POST
@staff_required
def filespace_delete(request: HttpRequest, pk: int) -> HttpResponse:
    filespace = selectors.filespace_get(pk=pk)
    if request.POST.get("confirm") != filespace.remote_name:
        messages.error(request, f"Type {filespace.remote_name} to confirm the deletion.")
        return _back(request, "staff:filespaces")
    _run(
        request,
        lambda: provisioning.filespace_delete(
            filespace=filespace, by=Principal.from_request(request)
        ),
        f"{filespace.remote_name} will be deleted at LucidLink.",
    )
    return _back(request, "staff:filespaces")


@require_GET
@staff_required
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "staff/plan_list.html", {"plans": selectors.plans_all()})


@staff_required
def plan_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    plan = selectors.plan_get(pk=pk) if pk is not None else None
    before = plans.plan_values(plan) if plan is not None else None
    form = PlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        try:
            saved = plans.plan_save(
                plan=form.save(commit=False), by=Principal.from_request(request), before=before
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Plan {saved.name} saved.")
            return redirect("staff:plans")
    return render(request, "staff/plan_form.html", {"form": form, "plan": plan})


@require_POST
@staff_required
def plan_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    plan = selectors.plan_get(pk=pk)
    active = request.POST.get("active") == "true"
    _run(
        request,
        lambda: plans.plan_set_active(plan=plan, by=Principal.from_request(request), active=active),
        f"Plan {plan.name} is {'offered again' if active else 'withdrawn from sale'}.",
    )
    return redirect("staff:plans")


@require_GET
@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    page = Paginator(selectors.audit_log(query=query), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "staff/audit_log.html", {"page": page, "q": query})
