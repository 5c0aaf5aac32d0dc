"""Back-testing a price: what customers would have paid for a past month under other terms.

Pure functions over plain data, like billing.rating: the stored usage of the month is rated twice,
once under the terms each filespace was really on and once under the candidate terms, with the
same rules (docs/billing.md, section 3) and the same rounding (half-up, once per line; the
minimum true-up per customer and plan). LucidLink's cost is rated the same way: the
time-weighted GiB-month of each line times the cost per GiB-month, rounded once per line.
Nothing here reads or writes the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from billing import rating
from billing.summary import SeriesSummary

ZERO = Decimal(0)


@dataclass(frozen=True)
class Piece:
    """Part of a filespace's month on one real plan: the window that plan was in force."""

    customer_id: int
    filespace_id: int
    plan_id: int
    terms: rating.PlanTerms
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class Paid:
    """What a customer's finalized invoice charged for the pieces compared, and its number."""

    amount: Decimal
    number: str


@dataclass(frozen=True)
class CustomerFigures:
    """One customer's month: paid (invoiced, or rated on the real plans) against the candidate."""

    customer_id: int | None
    filespaces: int
    gib_months: Decimal
    paid: Decimal
    invoice_number: str  # empty when "paid" is the rating of the real plans (no final invoice)
    would_pay: Decimal
    cost: Decimal

    @property
    def difference(self) -> Decimal:
        return self.would_pay - self.paid

    @property
    def margin(self) -> Decimal:
        return self.would_pay - self.cost

    @property
    def paid_margin(self) -> Decimal:
        return self.paid - self.cost


@dataclass(frozen=True)
class Backtest:
    currency: str
    rows: list[CustomerFigures] = field(default_factory=list)
    total: CustomerFigures | None = None


def _line(terms, series, piece: Piece, month_start, month_end, slot_seconds) -> rating.LineRating:
    return rating.rate_usage(
        terms=terms,
        samples=series,
        window_start=piece.window_start,
        window_end=piece.window_end,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=slot_seconds,
    )


def _charged(lines: Iterable[tuple[int, rating.LineRating]]) -> Decimal:
    """Lines' amounts plus each plan's minimum true-up, as an invoice would charge them."""
    by_plan: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for plan_key, line in lines:
        by_plan[plan_key].append((line.minimum_prorated, line.amount))
    total = ZERO
    for pairs in by_plan.values():
        total += sum((amount for _minimum, amount in pairs), ZERO) + rating.minimum_true_up(pairs)
    return total


def backtest(
    *,
    pieces: Iterable[Piece],
    samples: Mapping[int, rating.SampleSeries | SeriesSummary],
    candidate: rating.PlanTerms,
    cost_per_gib_month: Decimal,
    month_start: datetime,
    month_end: datetime,
    slot_seconds: int,
    invoiced: Mapping[int, Paid],
) -> Backtest:
    """Per customer: paid, would pay under ``candidate``, difference, LucidLink cost, margins.

    "Paid" is the customer's finalized invoice (``invoiced``) when there is one, else the rating
    of the plans the filespaces were really on. Every piece must be in ``candidate``'s currency.
    """
    cost_terms = rating.PlanTerms(
        currency=candidate.currency, unit="GiB", price_per_unit_month=cost_per_gib_month
    )
    by_customer: dict[int, list[Piece]] = defaultdict(list)
    for piece in pieces:
        if piece.terms.currency != candidate.currency:
            raise rating.RatingError("A back-test compares pieces in the candidate's currency.")
        by_customer[piece.customer_id].append(piece)
    rows = []
    for customer_id in sorted(by_customer):
        real, tried, cost, gib_months = [], [], ZERO, ZERO
        for piece in by_customer[customer_id]:
            series = samples.get(piece.filespace_id, {})
            args = (series, piece, month_start, month_end, slot_seconds)
            real.append((piece.plan_id, _line(piece.terms, *args)))
            tried.append((0, _line(candidate, *args)))
            cost_line = _line(cost_terms, *args)
            cost += cost_line.amount
            gib_months += cost_line.quantity
        paid = invoiced.get(customer_id)
        rows.append(
            CustomerFigures(
                customer_id=customer_id,
                filespaces=len({piece.filespace_id for piece in by_customer[customer_id]}),
                gib_months=gib_months,
                paid=paid.amount if paid else _charged(real),
                invoice_number=paid.number if paid else "",
                would_pay=_charged(tried),
                cost=cost,
            )
        )
    return Backtest(currency=candidate.currency, rows=rows, total=_total(rows))


def _total(rows: list[CustomerFigures]) -> CustomerFigures:
    return CustomerFigures(
        customer_id=None,
        filespaces=sum(row.filespaces for row in rows),
        gib_months=sum((row.gib_months for row in rows), ZERO),
        paid=sum((row.paid for row in rows), ZERO),
        invoice_number="",
        would_pay=sum((row.would_pay for row in rows), ZERO),
        cost=sum((row.cost for row in rows), ZERO),
    )
