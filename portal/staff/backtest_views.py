"""Back-test a price plan: a read-only staff page and its CSV (docs/staff.md, docs/billing.md)."""

import csv
from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing import rating
from billing.services.backtest import BacktestPage, plan_backtest
from portal.staff.decorators import staff_required
from portal.staff.forms import BacktestForm


@require_GET
@staff_required
def plan_backtest_page(request: HttpRequest) -> HttpResponse:
    form = BacktestForm(request.GET if "month" in request.GET else None, initial=_initial(request))
    page = None
    if form.is_bound and form.is_valid():
        terms, cost = form.candidate()
        month_start, month_end = form.cleaned_data["month"]
        page = plan_backtest(
            plan=form.cleaned_data["plan"],
            candidate=terms,
            cost_per_gib_month=cost,
            month_start=month_start,
            month_end=month_end,
        )
        if request.GET.get("format") == "csv":
            return _csv(page, form)
    context = {"form": form, "page": page, "query": request.GET.urlencode()}
    return render(request, "staff/plan_backtest.html", context)


def _initial(request: HttpRequest) -> dict:
    """The plan the plans list linked from, and last month."""
    last_month = timezone.now().replace(day=1) - timedelta(days=1)
    return {"plan": request.GET.get("plan"), "month": f"{last_month:%Y-%m}"}


def _csv(page: BacktestPage, form: BacktestForm) -> HttpResponse:
    result = page.result
    plan = form.cleaned_data["plan"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"backtest-{plan.slug}-{page.month_start:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        ["customer_id", "customer", "filespaces", "gib_months", "currency", "paid",
         "paid_from", "would_pay", "difference", "lucidlink_cost", "margin", "margin_paid"]
    )  # fmt: skip
    for row in [*result.rows, result.total]:
        name = page.customer_names.get(row.customer_id, "") if row.customer_id else "Total"
        source = row.invoice_number or ("rated" if row.customer_id else "")
        writer.writerow(
            [row.customer_id or "", _cell(name), row.filespaces, row.gib_months, result.currency,
             _money(row.paid, result), source, _money(row.would_pay, result),
             _money(row.difference, result), _money(row.cost, result), _money(row.margin, result),
             _money(row.paid_margin, result)]
        )  # fmt: skip
    return response


def _money(amount, result) -> str:
    return str(rating.round_money(amount, result.currency))


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in a name a customer typed."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
