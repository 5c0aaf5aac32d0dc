"""Billing reads for pages, always scoped to one customer first (staff reads say so)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum
from django.http import Http404

from billing import charts, rating
from billing.models import BillingFlag, DailyUsage, Invoice, InvoiceLine, UsageGap, UsageSample
from billing.services.pricing import billable_filespaces, rate_filespaces, rating_inputs

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
    forecast: Decimal
    quantity_to_date: Decimal
    gap_slots: int
    chart: charts.Chart
    # The plan's minimum monthly charge is more than this plan's usage: the totals add a top-up.
    minimum_applies: bool = False


@dataclass
class UsagePage:
    month_start: datetime
    month_end: datetime
    rows: list[FilespaceUsage]
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    is_current: bool = False


def usage_page_for(*, customer, month_start: datetime, month_end: datetime, now: datetime):
    """Each filespace's chart, cost to date and forecast for one month, in five queries."""
    filespaces = list(
        billable_filespaces(month_start=month_start, month_end=month_end).filter(customer=customer)
    )
    inputs = rating_inputs(filespaces=filespaces, month_start=month_start, month_end=month_end)
    is_current = month_start <= now < month_end
    as_of = now if is_current else None
    to_date = rate_filespaces(
        filespaces=filespaces,
        month_start=month_start,
        month_end=month_end,
        as_of=as_of,
        inputs=inputs,
    )
    if is_current:
        forecast = rate_filespaces(
            filespaces=filespaces,
            month_start=month_start,
            month_end=month_end,
            as_of=now,
            forecast=True,
            inputs=inputs,
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

    daily: dict[int, list[DailyUsage]] = defaultdict(list)
    for rollup in DailyUsage.objects.filter(
        customer=customer, day__gte=month_start.date(), day__lt=month_end.date()
    ).order_by("day"):
        daily[rollup.filespace_id].append(rollup)
    month_days = [
        month_start.date() + timedelta(days=offset)
        for offset in range((month_end - month_start).days)
    ]
    rows = []
    for filespace in sorted(filespaces, key=lambda fs: fs.remote_name):
        unit = filespace.plan.billing_unit
        unit_bytes = Decimal(rating.UNIT_BYTES.get(unit, 10**9))
        days = daily.get(filespace.pk, [])
        figures = per_fs[filespace.pk]
        rows.append(
            FilespaceUsage(
                filespace=filespace,
                currency=filespace.plan.currency,
                unit=unit,
                cost_to_date=figures["cost"],
                forecast=figures["forecast"],
                quantity_to_date=figures["quantity"],
                gap_slots=figures["gaps"],
                minimum_applies=filespace.plan_id in topped_up_plans,
                chart=charts.usage_chart(
                    title=f"Stored data in {filespace.qualified_name}, {month_start:%B %Y}",
                    unit=unit,
                    days=month_days,
                    averages={
                        d.day: d.used_storage_average / unit_bytes for d in days if d.sample_count
                    },
                    peaks={
                        d.day: Decimal(d.used_storage_max) / unit_bytes
                        for d in days
                        if d.sample_count
                    },
                ),
            )
        )
    return UsagePage(month_start, month_end, rows, dict(totals), is_current)


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


def metered_estimates(*, month_start: datetime, month_end: datetime) -> list[dict]:
    """Staff only: every customer's metered storage this month from the daily rollups.

    One aggregate query. Each day counts with its average sample, priced at the filespace's
    current plan without allowance, tiers or minimum: an estimate for customers who have no
    invoice yet, never an invoice figure.
    """
    days_in_month = Decimal((month_end - month_start).days)
    daily_average = ExpressionWrapper(
        F("used_storage_sum") / F("sample_count"),
        output_field=DecimalField(max_digits=30, decimal_places=6),
    )
    rows = (
        DailyUsage.objects.filter(
            day__gte=month_start.date(), day__lt=month_end.date(), sample_count__gt=0
        )
        .values(
            "customer_id",
            "customer__name",
            "filespace__plan__currency",
            "filespace__plan__billing_unit",
            "filespace__plan__price_per_unit_month",
        )
        .annotate(byte_days=Sum(daily_average), filespaces=Count("filespace", distinct=True))
        .order_by("customer__name", "customer_id")
    )
    merged: dict[tuple, dict] = {}
    for row in rows:
        unit = row["filespace__plan__billing_unit"]
        currency = row["filespace__plan__currency"]
        quantity = Decimal(row["byte_days"]) / rating.UNIT_BYTES.get(unit, 10**9) / days_in_month
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


def staff_overview(*, month_start: datetime) -> Overview:
    """Staff only: every customer's documents for one month, totals per currency and status."""
    invoices = list(
        Invoice.objects.filter(period_start=month_start.date())
        .select_related("customer")
        .order_by("customer__name", "kind", "id")
    )
    totals = list(
        Invoice.objects.filter(period_start=month_start.date())
        .values("currency", "status", "kind")
        .annotate(total=Sum("total"))
        .order_by("currency", "kind", "status")
    )
    flags = list(
        BillingFlag.objects.filter(resolved_at__isnull=True)
        .select_related("customer", "filespace")
        .order_by("-last_seen_at")[:100]
    )
    metered = metered_estimates(month_start=month_start, month_end=rating.month_of(month_start)[1])
    return Overview(month_start, invoices, totals, flags, metered)


def staff_customer_documents(*, customer) -> list[Invoice]:
    """Staff only: drafts included."""
    return list(Invoice.objects.filter(customer=customer).order_by("-period_start", "-id"))


def month_start_of(day) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)
