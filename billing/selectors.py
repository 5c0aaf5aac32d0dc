"""Billing reads for pages, always scoped to one customer first (staff reads say so)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    Exists,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)
from django.http import Http404
from django.utils import timezone

from billing import charts, rating
from billing.models import (
    BillingFlag,
    DailyUsage,
    Invoice,
    InvoiceLine,
    MonthUsage,
    UsageGap,
    UsageSample,
)
from billing.services.pricing import (
    BillingError,
    billable_filespaces,
    rate_filespaces,
    summary_inputs,
)
from billing.summary import SeriesSummary
from portal.customers.models import Customer
from portal.pagination import CountedPaginator
from portal.plans.models import Plan

EPOCH_DAY = date(1970, 1, 1)
OVERVIEW_PAGE_SIZE = 25
USAGE_PAGE_SIZE = 25
PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    pass


def parse_period(text: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """``YYYY-MM`` to the month's bounds; empty means the current month."""
    if not text:
        return rating.month_of(now)
    match = PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        raise PeriodError(f"{text[:20]!r} is not a month; use the form 2026-06.")
    return rating.month_bounds(int(match.group(1)), int(match.group(2)))


def recent_periods(*, now: datetime, count: int = 12, since: datetime | None = None) -> list[str]:
    """The last `count` months, newest first, none before the month of `since` (when given)."""
    start = rating.month_of(now)[0]
    earliest = rating.month_of(since)[0] if since is not None else None
    periods = []
    for _ in range(count):
        if earliest is not None and start < earliest:
            break
        periods.append(f"{start:%Y-%m}")
        start = rating.month_of(start - timedelta(days=1))[0]
    return periods


@dataclass
class FilespaceUsage:
    filespace: object
    currency: str
    unit: str
    cost_to_date: Decimal
    # None when the page asked for the figures to date only (usage_page_for(forecast_wanted=False)).
    forecast: Decimal | None
    quantity_to_date: Decimal
    gap_slots: int
    # Drawn by the template (billing_tags.usage_chart_drawings), which keeps each drawing cached.
    chart: charts.UsageChartData | None
    # The plan's minimum monthly charge is more than this plan's usage: the totals add a top-up.
    minimum_applies: bool = False
    # When the plan changed in the month: one entry per plan period, in order.
    periods: list[PlanPeriodUsage] = field(default_factory=list)


@dataclass(frozen=True)
class PlanPeriodUsage:
    plan_name: str
    starts: datetime
    ends: datetime
    cost: Decimal


@dataclass
class UsagePage:
    month_start: datetime
    month_end: datetime
    rows: list[FilespaceUsage]
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    is_current: bool = False
    pages: Page | None = None  # the rows are one page of the month's filespaces


def usage_page_for(
    *,
    customer,
    month_start: datetime,
    month_end: datetime,
    now: datetime,
    charts_wanted: bool = True,
    filespaces: list | None = None,
    page_number: str | None = None,
    forecast_wanted: bool = True,
):
    """Each filespace's chart, cost to date and forecast for one month, in a few queries.

    Totals cover every filespace; the rows (and their charts) are one page of USAGE_PAGE_SIZE,
    or every filespace when no chart is wanted. Without ``forecast_wanted`` the month is rated
    once, to date: the rows' forecast is None, and the totals and ``minimum_applies`` leave
    the forecast out (the dashboard shows the figures to date only).

    The figures come from the month-to-date summaries (billing.summary), so a view reads a row
    per filespace whatever the hour of the month; filespaces without a covering summary are
    rated from their raw samples, with the same result.
    """
    if filespaces is None:
        billable = billable_filespaces(month_start=month_start, month_end=month_end)
        # The plans by prefetch, not select_related: one Plan instance per plan (its JSON
        # decoded once), shared by its filespaces, instead of one per filespace row.
        filespaces = list(
            billable.filter(customer=customer).select_related(None).prefetch_related("plan")
        )
    else:
        # Already loaded by the caller (with their plan); one that was not billable in the month
        # simply gets no line.
        filespaces = [fs for fs in filespaces if fs.customer_id == customer.pk]
    is_current = month_start <= now < month_end
    as_of = now if is_current else None
    shown = Paginator(sorted(filespaces, key=lambda fs: (fs.remote_name, fs.pk)), USAGE_PAGE_SIZE)
    shown = shown.get_page(page_number)
    inputs = summary_inputs(
        filespaces=filespaces,
        month_start=month_start,
        month_end=month_end,
        as_of=as_of,
        # Per-day figures only for the charts drawn (rating reads them only for daily peaks).
        days_for=[fs.pk for fs in shown.object_list] if charts_wanted else [],
    )
    to_date = rate_filespaces(
        filespaces=filespaces,
        month_start=month_start,
        month_end=month_end,
        as_of=as_of,
        inputs=inputs,
        describe=False,
    )
    if is_current and not forecast_wanted:
        forecast = {}
    elif is_current:
        forecast = rate_filespaces(
            filespaces=filespaces,
            month_start=month_start,
            month_end=month_end,
            as_of=now,
            forecast=True,
            inputs=inputs,
            describe=False,
        )
    else:
        forecast = to_date
    per_fs: dict[int, dict[str, Decimal | int]] = defaultdict(
        lambda: {"cost": Decimal(0), "forecast": Decimal(0), "quantity": Decimal(0), "gaps": 0}
    )
    # Each total is the filespaces' usage plus the minimum-charge top-ups, kept apart so the
    # page can show how the filespaces' figures add up to it.
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {
            "cost": Decimal(0),
            "forecast": Decimal(0),
            "minimum_cost": Decimal(0),
            "minimum_forecast": Decimal(0),
        }
    )
    topped_up_plans: set[int] = set()
    for currency, lines in to_date.items():
        for line in lines:
            totals[currency]["cost"] += line.amount
            if line.filespace_id:
                per_fs[line.filespace_id]["cost"] += line.amount
                per_fs[line.filespace_id]["quantity"] += line.quantity
                per_fs[line.filespace_id]["gaps"] += line.gap_slots
            else:
                totals[currency]["minimum_cost"] += line.amount
    for currency, lines in forecast.items():
        for line in lines:
            totals[currency]["forecast"] += line.amount
            if line.filespace_id:
                per_fs[line.filespace_id]["forecast"] += line.amount
            else:
                totals[currency]["minimum_forecast"] += line.amount
                topped_up_plans.add(line.plan_id)
    periods = _plan_periods(to_date)
    daily = (
        _daily_points(shown.object_list, inputs, month_start, month_end) if charts_wanted else {}
    )
    month_days = tuple(
        month_start.date() + timedelta(days=offset)
        for offset in range((month_end - month_start).days)
    )
    rows = []
    for filespace in shown.object_list if charts_wanted else filespaces:
        unit = filespace.plan.billing_unit
        figures = per_fs[filespace.pk]
        chart = None
        if charts_wanted:
            chart = charts.UsageChartData(
                title=f"Stored data in {filespace.qualified_name}, {month_start:%B %Y}",
                unit=unit,
                unit_bytes=rating.UNIT_BYTES.get(unit, 10**9),
                days=month_days,
                points=tuple(
                    (day, int(total), int(count), int(largest))
                    for day, (total, count, largest) in sorted(daily.get(filespace.pk, {}).items())
                ),
            )
        rows.append(
            FilespaceUsage(
                filespace=filespace,
                currency=filespace.plan.currency,
                unit=unit,
                cost_to_date=figures["cost"],
                forecast=figures["forecast"] if forecast_wanted or not is_current else None,
                quantity_to_date=figures["quantity"],
                gap_slots=figures["gaps"],
                minimum_applies=filespace.plan_id in topped_up_plans,
                chart=chart,
                periods=periods.get(filespace.pk, []),
            )
        )
    return UsagePage(month_start, month_end, rows, dict(totals), is_current, shown)


def with_stored_bytes(filespaces: QuerySet, *, month_start: datetime) -> QuerySet:
    """The filespaces annotated with `stored_bytes`: their last sampled level in the month, from
    its summary (None before the first sample), so a page can rank them in SQL."""
    last = MonthUsage.objects.filter(filespace=OuterRef("pk"), month=month_start.date())
    return filespaces.annotate(stored_bytes=Subquery(last.values("last_value")[:1]))


def usage_to_date_for(*, customer: Customer, filespaces: list | None = None) -> dict:
    """This month's usage and cost to date per filespace id; {} when it cannot be rated.

    ``filespaces`` limits the work to the ones a page shows (the dashboard). Only filespaces
    with measured usage are in the answer, so the page can say "not yet collected" for the
    rest. Costs a fixed number of queries (usage_page_for).
    """
    now = timezone.now()
    month_start, month_end = rating.month_of(now)
    try:
        page = usage_page_for(
            customer=customer,
            month_start=month_start,
            month_end=month_end,
            now=now,
            charts_wanted=False,
            filespaces=filespaces,
            forecast_wanted=False,
        )
    except (BillingError, EmptyResultSet):
        # EmptyResultSet: rating_inputs cannot yet take a customer with no billable filespace
        # this month; the dashboard then shows no usage.
        return {}
    return {row.filespace.pk: row for row in page.rows if row.quantity_to_date or row.cost_to_date}


def _plan_periods(lines_by_currency: dict) -> dict[int, list[PlanPeriodUsage]]:
    """Each filespace whose month was split by a plan change: its lines as plan periods.

    One query for the plans' names, and only when some filespace changed plan.
    """
    by_filespace: dict[int, list] = defaultdict(list)
    for lines in lines_by_currency.values():
        for line in lines:
            if line.filespace_id and line.window_start is not None:
                by_filespace[line.filespace_id].append(line)
    split = {
        fs: lines for fs, lines in by_filespace.items() if len({ln.plan_id for ln in lines}) > 1
    }
    if not split:
        return {}
    names = dict(
        Plan.objects.filter(
            pk__in={line.plan_id for lines in split.values() for line in lines}
        ).values_list("pk", "name")
    )
    return {
        fs: [
            PlanPeriodUsage(names.get(ln.plan_id, ""), ln.window_start, ln.window_end, ln.amount)
            for ln in sorted(lines, key=lambda ln: ln.window_start)
        ]
        for fs, lines in split.items()
    }


def _daily_points(
    filespaces: list, inputs, month_start: datetime, month_end: datetime
) -> dict[int, dict[date, tuple[int, int, int]]]:
    """(Σ sampled bytes, samples, largest sample) per filespace and day with samples.

    Read from the month's summaries; the daily rollups serve filespaces without one.
    """
    points: dict[int, dict[date, tuple[int, int, int]]] = defaultdict(dict)
    others = []
    for filespace in filespaces:
        month = inputs.samples.get(filespace.pk)
        if isinstance(month, SeriesSummary):
            for day, sampled in month.day_samples.items():
                points[filespace.pk][EPOCH_DAY + timedelta(days=day)] = sampled
        else:
            others.append(filespace.pk)
    if others:
        rollups = DailyUsage.objects.filter(
            filespace_id__in=others,
            day__gte=month_start.date(),
            day__lt=month_end.date(),
            sample_count__gt=0,
        ).values_list("filespace_id", "day", "used_storage_sum", "sample_count", "used_storage_max")
        for filespace_id, day, total, count, largest in rollups:
            points[filespace_id][day] = (total, count, largest)
    return points


def invoices_for(*, customer) -> QuerySet[Invoice]:
    """A customer sees finalized documents only; drafts are under staff review."""
    return Invoice.objects.filter(customer=customer, status=Invoice.Status.FINALIZED).order_by(
        "-period_start", "-id"
    )


def invoice_get(*, customer, pk: int) -> Invoice:
    invoice = invoices_for(customer=customer).select_related("customer", "credits").filter(pk=pk)
    found = invoice.first()
    if found is None:
        raise Http404("No such invoice")
    return found


def staff_invoice_get(*, pk: int) -> Invoice:
    """Staff only: any invoice of any customer."""
    found = Invoice.objects.select_related("customer", "credits").filter(pk=pk).first()
    if found is None:
        raise Http404("No such invoice")
    return found


def invoice_lines(*, invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.select_related("filespace", "plan").order_by("position", "id"))


def line_get(*, invoice: Invoice, pk: int) -> InvoiceLine:
    line = invoice.lines.select_related("filespace", "plan").filter(pk=pk).first()
    if line is None:
        raise Http404("No such line")
    return line


def line_evidence(*, line: InvoiceLine) -> tuple[list[UsageSample], list[UsageGap]]:
    """The raw samples and gaps a usage line was rated from (its filespace and window)."""
    if line.filespace_id is None or line.window_start is None:
        return [], []
    first_slot = rating.slot_start(line.window_start, line.slot_seconds or 3600)
    window = {"slot__gte": first_slot, "slot__lt": line.window_end}
    samples = list(UsageSample.objects.filter(filespace_id=line.filespace_id, **window))
    gaps = list(UsageGap.objects.filter(filespace_id=line.filespace_id, **window))
    return samples, gaps


@dataclass
class Overview:
    month_start: datetime
    invoices: list[Invoice]
    totals: list[dict]
    open_flags: list[BillingFlag]
    metered: list[dict] = field(default_factory=list)
    invoice_page: Page | None = None
    metered_page: Page | None = None


def metered_estimates(
    *, month_start: datetime, month_end: datetime, customer_ids: list[int] | None = None
) -> list[dict]:
    """Staff only: customers' metered storage this month from the month-to-date summaries.

    One aggregate query, over the given customers (default: all): bytes times seconds of every
    filespace from its first to its last sample (gaps filled the documented way), priced at the
    filespace's current plan without allowance, tiers or minimum. An estimate for customers who
    have no invoice yet, never an invoice figure.
    """
    month_seconds = Decimal((month_end - month_start).total_seconds())
    summaries = MonthUsage.objects.filter(month=month_start.date())
    if customer_ids is not None:
        summaries = summaries.filter(customer_id__in=customer_ids)
    rows = (
        summaries.values(
            "customer_id",
            "customer__name",
            "slot_seconds",
            "filespace__plan__currency",
            "filespace__plan__billing_unit",
            "filespace__plan__price_per_unit_month",
        )
        .annotate(slot_bytes=Sum("slot_sum"), filespaces=Count("filespace", distinct=True))
        .order_by("customer__name", "customer_id")
    )
    merged: dict[tuple, dict] = {}
    for row in rows:
        unit = row["filespace__plan__billing_unit"]
        currency = row["filespace__plan__currency"]
        byte_seconds = Decimal(row["slot_bytes"]) * row["slot_seconds"]
        quantity = byte_seconds / rating.UNIT_BYTES.get(unit, 10**9) / month_seconds
        key = (row["customer_id"], currency, unit)
        entry = merged.setdefault(
            key,
            {
                "customer_id": row["customer_id"],
                "customer_name": row["customer__name"],
                "currency": currency,
                "unit": unit,
                "filespaces": 0,
                "quantity": Decimal(0),
                "estimate": Decimal(0),
            },
        )
        entry["filespaces"] += row["filespaces"]
        entry["quantity"] += quantity
        entry["estimate"] += quantity * row["filespace__plan__price_per_unit_month"]
    for entry in merged.values():
        entry["quantity"] = rating.quantize_quantity(entry["quantity"])
        entry["estimate"] = rating.round_money(entry["estimate"], entry["currency"])
    return list(merged.values())


def staff_overview(
    *, month_start: datetime, invoice_page: str | None = None, metered_page: str | None = None
) -> Overview:
    """Staff only: one page of the month's documents and of the metered customers, and totals.

    A fixed number of queries whatever the number of customers: the documents and the customers
    with usage are paginated, and the metered estimate is aggregated for the shown page only.
    """
    month_end = rating.month_of(month_start)[1]
    documents = (
        Invoice.objects.filter(period_start=month_start.date())
        .select_related("customer")
        .order_by("customer__name", "kind", "id")
    )
    totals = list(
        Invoice.objects.filter(period_start=month_start.date())
        .values("currency", "status", "kind")
        .annotate(total=Sum("total"), documents=Count("pk"))
        .order_by("currency", "kind", "status")
    )
    # The totals already count the month's documents: the pager takes that, not a COUNT(*).
    documents_count = sum(row["documents"] for row in totals)
    invoices = CountedPaginator(documents, OVERVIEW_PAGE_SIZE, count=documents_count)
    invoices = invoices.get_page(invoice_page)
    flags = list(
        BillingFlag.objects.filter(resolved_at__isnull=True)
        .select_related("customer", "filespace")
        .order_by("-last_seen_at")[:100]
    )
    used = MonthUsage.objects.filter(customer=OuterRef("pk"), month=month_start.date())
    metered_customers = (
        Customer.objects.filter(Exists(used)).order_by("name", "id").values_list("pk", flat=True)
    )
    shown = Paginator(metered_customers, OVERVIEW_PAGE_SIZE).get_page(metered_page)
    metered = metered_estimates(
        month_start=month_start, month_end=month_end, customer_ids=list(shown.object_list)
    )
    return Overview(
        month_start, list(invoices.object_list), totals, flags, metered, invoices, shown
    )


def staff_overview_export(*, month_start: datetime) -> Overview:
    """Staff only: every document and every metered customer of the month, for the CSV."""
    invoices = list(
        Invoice.objects.filter(period_start=month_start.date())
        .select_related("customer")
        .order_by("customer__name", "kind", "id")
    )
    metered = metered_estimates(month_start=month_start, month_end=rating.month_of(month_start)[1])
    return Overview(month_start, invoices, [], [], metered)


def staff_customer_documents(*, customer) -> list[Invoice]:
    """Staff only: drafts included."""
    return list(Invoice.objects.filter(customer=customer).order_by("-period_start", "-id"))


def month_start_of(day) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)
