"""Back-test a price: load a past month's usage of comparable filespaces and rate it twice.

Reads only (a test holds every table unchanged). A fixed number of queries whatever the number of
customers and filespaces: comparable plans, the filespaces, their plan history, month summaries
and the check of those against the samples (raw samples only where a summary cannot be used),
and the month's finalized invoices with their lines. The maths is billing.backtest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from billing import backtest, rating
from billing.models import Invoice, InvoiceLine
from billing.services.pricing import (
    billable_filespaces,
    invoice_inputs,
    month_pieces,
    plan_terms,
)


@dataclass(frozen=True)
class BacktestPage:
    """The back-test's figures with the names the page and the CSV print."""

    result: backtest.Backtest
    customer_names: dict[int, str]
    comparable_plans: list
    month_start: datetime
    cost_per_gib_month: Decimal

    @property
    def named_rows(self) -> list[tuple[str, backtest.CustomerFigures]]:
        return [(self.customer_names[row.customer_id], row) for row in self.result.rows]


def comparable_plans(plan) -> list:
    """Plans selling the same storage (owner and provider) in the same currency as ``plan``."""
    from portal.plans.models import Plan

    return list(
        Plan.objects.filter(
            storage_owner=plan.storage_owner, provider=plan.provider, currency=plan.currency
        ).order_by("name", "pk")
    )


def plan_backtest(
    *,
    plan,
    candidate: rating.PlanTerms,
    cost_per_gib_month: Decimal,
    month_start: datetime,
    month_end: datetime,
) -> BacktestPage:
    """What each customer on plans comparable to ``plan`` paid for the month, and would pay
    under ``candidate`` (the plan's terms or a draft of new ones)."""
    plans = comparable_plans(plan)
    plan_ids = [p.pk for p in plans]
    filespaces = list(
        billable_filespaces(month_start=month_start, month_end=month_end)
        .filter(Q(plan_id__in=plan_ids) | Q(plan_periods__plan_id__in=plan_ids))
        .select_related("customer")
        .distinct()
    )
    inputs = invoice_inputs(filespaces=filespaces, month_start=month_start, month_end=month_end)
    pieces = [
        backtest.Piece(
            customer_id=filespace.customer_id,
            filespace_id=filespace.pk,
            plan_id=piece_plan.pk,
            terms=plan_terms(piece_plan),
            window_start=start,
            window_end=end,
        )
        for filespace in filespaces
        for start, end, piece_plan in month_pieces(
            filespace, inputs.history, month_start, month_end
        )
        if piece_plan.pk in plan_ids
    ]
    customers = {fs.customer_id: fs.customer.name for fs in filespaces}
    result = backtest.backtest(
        pieces=pieces,
        samples=inputs.samples,
        candidate=candidate,
        cost_per_gib_month=cost_per_gib_month,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=settings.USAGE_SAMPLE_INTERVAL_SECONDS,
        invoiced=_invoiced(
            customer_ids={p.customer_id for p in pieces},
            filespace_ids={p.filespace_id for p in pieces},
            plan_ids=plan_ids,
            currency=candidate.currency,
            month_start=month_start,
        ),
    )
    names = {row.customer_id: customers[row.customer_id] for row in result.rows}
    return BacktestPage(result, names, plans, month_start, cost_per_gib_month)


def _invoiced(
    *, customer_ids, filespace_ids, plan_ids, currency: str, month_start: datetime
) -> dict[int, backtest.Paid]:
    """The finalized invoices' charge for the compared filespaces on comparable plans.

    Usage lines of those filespaces on those plans and the plans' minimum true-ups; staff
    adjustments and credit notes are left out (they are not the price).
    """
    if not customer_ids:
        return {}
    invoices = {
        pk: (customer_id, number)
        for pk, customer_id, number in Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE,
            status=Invoice.Status.FINALIZED,
            period_start=month_start.date(),
            currency=currency,
            customer_id__in=customer_ids,
        ).values_list("pk", "customer_id", "number")
    }
    amounts: dict[int, Decimal] = defaultdict(Decimal)
    lines = InvoiceLine.objects.filter(invoice_id__in=list(invoices), plan_id__in=plan_ids).filter(
        Q(kind=InvoiceLine.Kind.USAGE, filespace_id__in=filespace_ids)
        | Q(kind=InvoiceLine.Kind.MINIMUM)
    )
    for invoice_id, amount in lines.values_list("invoice_id", "amount"):
        amounts[invoice_id] += amount
    return {
        customer_id: backtest.Paid(amounts[invoice_id], number or "")
        for invoice_id, (customer_id, number) in invoices.items()
    }
