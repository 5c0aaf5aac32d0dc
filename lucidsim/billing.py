"""Price list and rating: pure functions from usage to amounts in cents.

Nothing here is published by LucidLink except the dimension names, the fields and that money is
in cents; the prices and the way usage is measured are the simulator's own, documented in
docs/lucidsim.md.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

CURRENCY = "USD"
GB = Decimal(10**9)
# Cents per GB-month of ``usedStorage``, by subscription type.
MANAGED_CAPACITY_CENTS = {
    "basic": Decimal("1.0"),
    "teams": Decimal("2.0"),
    "enterprise": Decimal("3.0"),
    "custom": Decimal("0.5"),
    "none": Decimal("2.0"),
}
# Cents per user-month (peak ``usersCount`` in the period, prorated by days alive).
FILESPACE_USER_CENTS = Decimal("500")
# The billing schema's subscription enum has "advanced" where the filespace schema has
# "enterprise"; the breakdown reports the billing name.
BILLING_SUBSCRIPTION_NAME = {"enterprise": "advanced"}
MAX_SAMPLES = 240
SAMPLE_MS = 6 * 3_600_000


@dataclass(frozen=True)
class BillableFilespace:
    id: str
    name: str
    provider: str
    owner: str
    subscription_type: str
    created_ms: int
    deleted_ms: int | None
    used_at: Callable[[int], int]  # usedStorage in bytes at a given epoch ms.
    users_at: Callable[[int], int]  # usersCount at a given epoch ms.
    users_peak: Callable[[int, int], int]  # Highest usersCount in [start, end].


def month_start(ms: int) -> int:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)


def next_month_start(ms: int) -> int:
    moment = datetime.fromtimestamp(month_start(ms) / 1000, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _gb_ms(fs: BillableFilespace, start: int, end: int) -> Decimal:
    """Integral of usedStorage over [start, end] in GB x ms (trapezoid rule)."""
    if end <= start:
        return Decimal(0)
    steps = min(MAX_SAMPLES, max(1, math.ceil((end - start) / SAMPLE_MS)))
    width = Decimal(end - start) / steps
    points = [fs.used_at(start + int(width * i)) for i in range(steps)] + [fs.used_at(end)]
    total = sum(Decimal(a + b) / 2 for a, b in itertools.pairwise(points))
    return total * width / GB


def line_item(
    fs: BillableFilespace, *, period_start: int, period_end: int, now: int, forecast: bool
) -> dict:
    """One filespace's share of a period: usage per dimension, amount due, optional forecast."""
    month_ms = Decimal(period_end - period_start)
    alive_from = max(period_start, fs.created_ms)
    alive_to = min(now, period_end, fs.deleted_ms if fs.deleted_ms is not None else now)
    alive_to = max(alive_to, alive_from)
    cap_price = MANAGED_CAPACITY_CENTS.get(fs.subscription_type, MANAGED_CAPACITY_CENTS["teams"])
    gb_months = _gb_ms(fs, alive_from, alive_to) / month_ms
    peak_users = fs.users_peak(alive_from, alive_to)
    user_months = Decimal(peak_users) * Decimal(alive_to - alive_from) / month_ms
    amount = gb_months * cap_price + user_months * FILESPACE_USER_CENTS
    item = {
        "filespace": fs.id,
        "name": fs.name,
        "storageProvider": fs.provider,
        "storageOwner": fs.owner,
        "subscriptionType": BILLING_SUBSCRIPTION_NAME.get(
            fs.subscription_type, fs.subscription_type
        ),
        "isDeleted": fs.deleted_ms is not None,
        "amountDue": cents(amount),
        "usageByDimension": [
            {"dimension": "ManagedCapacity", "usage": float(round(gb_months, 3))},
            {"dimension": "FilespaceUsers", "usage": peak_users},
        ],
    }
    if forecast:
        rest = Decimal(max(0, period_end - max(now, alive_from))) / month_ms
        if fs.deleted_ms is not None:
            rest = Decimal(0)
        extra = (
            Decimal(fs.used_at(now)) / GB * cap_price
            + Decimal(fs.users_at(now)) * FILESPACE_USER_CENTS
        ) * rest
        item["amountDueForecast"] = cents(amount + extra)
    return item


def included(fs: BillableFilespace, *, period_start: int, now: int) -> bool:
    """A filespace appears in a period if it existed at any moment of it."""
    return fs.created_ms <= now and (fs.deleted_ms is None or fs.deleted_ms >= period_start)


def period_summary(
    filespaces: Iterable[BillableFilespace], *, period_start: int, period_end: int, now: int
) -> dict:
    items = [
        line_item(fs, period_start=period_start, period_end=period_end, now=now, forecast=True)
        for fs in filespaces
        if included(fs, period_start=period_start, now=now)
    ]
    return {
        "start": period_start,
        "end": period_end,
        "subscriptionStatus": "active",
        "amountDue": sum(item["amountDue"] for item in items),
        "amountDueForecast": sum(item["amountDueForecast"] for item in items),
        "currency": CURRENCY,
        "trialDays": 0,
        "filespaceBreakdown": items,
    }


def build_invoice(
    filespaces: Iterable[BillableFilespace],
    *,
    invoice_id: str,
    period_start: int,
    period_end: int,
    closed_at: int,
    paid: bool,
    pdf_url: str,
) -> dict:
    """Issue an invoice for [period_start, closed_at]; ``period_end`` is the month end."""
    items = [
        line_item(
            fs, period_start=period_start, period_end=period_end, now=closed_at, forecast=False
        )
        for fs in filespaces
        if included(fs, period_start=period_start, now=closed_at)
    ]
    capacity = sum(
        (Decimal(str(item["usageByDimension"][0]["usage"])) for item in items), Decimal(0)
    )
    users = sum(item["usageByDimension"][1]["usage"] for item in items)
    return {
        "id": invoice_id,
        "date": closed_at,
        "lineDescriptions": [
            f"ManagedCapacity: {capacity} GB-months across {len(items)} filespace(s)",
            f"FilespaceUsers: {users} user(s) at {FILESPACE_USER_CENTS} cents per user-month",
        ],
        "amountDue": sum(item["amountDue"] for item in items),
        "currency": CURRENCY,
        "paymentStatus": "paid" if paid else "not_paid",
        "pdfUrl": pdf_url,
        "periodStart": period_start,
        "periodEnd": closed_at,
        "filespaceBreakdown": items,
    }


CSV_COLUMNS = (
    "filespace",
    "name",
    "storageProvider",
    "storageOwner",
    "subscriptionType",
    "isDeleted",
    "managedCapacityGbMonths",
    "filespaceUsers",
    "amountDue",
    "currency",
)


def invoice_csv(invoice: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in invoice["filespaceBreakdown"]:
        writer.writerow(
            [
                item["filespace"],
                item["name"],
                item["storageProvider"],
                item["storageOwner"],
                item["subscriptionType"],
                "true" if item["isDeleted"] else "false",
                item["usageByDimension"][0]["usage"],
                item["usageByDimension"][1]["usage"],
                item["amountDue"],
                invoice["currency"],
            ]
        )
    return out.getvalue()
