"""Back-testing a price: a past month's stored usage rated under other terms, worked by hand.

June 2026 has 30 days. 1 TB = 10^12 bytes is 1,000 GB-month all month, and
10^12 / 2^30 = 931.3225746… → 931.322575 GiB-month (6 places, half-up).
"""

from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import backtest, rating, services
from billing.services.backtest import plan_backtest
from billing.services.pricing import plan_terms
from tests.billing.conftest import at, write_samples

TB = 10**12
JUNE = rating.month_bounds(2026, 6)
USD = "USD"


def terms(price: str, *, minimum: str = "0", unit: str = "GB") -> rating.PlanTerms:
    return rating.PlanTerms(
        currency=USD,
        unit=unit,
        price_per_unit_month=Decimal(price),
        minimum_monthly_charge=Decimal(minimum),
    )


def hourly(start: str, end: str, used: int) -> dict[int, int]:
    first, last = int(at(start).timestamp()), int(at(end).timestamp())
    return dict.fromkeys(range(first, last, 3600), used)


# -- The pure calculation ------------------------------------------------------------------------


def test_each_customer_is_rated_under_both_terms_with_the_invoice_rounding():
    """Customer 1: 1 TB all June on 0.02/GB. Paid 1,000 * 0.02 = 20.00; at 0.025 with a 15.00
    minimum: 25.00 (above the minimum). Cost 931.322575 GiB-month * 0.01 = 9.31322575 → 9.31.
    Customer 2: 10 GB all June. Paid 10 * 0.02 = 0.20 (its invoice says so); would pay 10 * 0.025
    = 0.25, topped up to the 15.00 minimum. Cost 9.313226 * 0.01 = 0.09313226 → 0.09."""
    pieces = [
        backtest.Piece(1, 11, 7, terms("0.02"), *JUNE),
        backtest.Piece(2, 21, 7, terms("0.02"), *JUNE),
    ]
    samples = {
        11: hourly("2026-06-01T00:00", "2026-07-01T00:00", TB),
        21: hourly("2026-06-01T00:00", "2026-07-01T00:00", 10**10),
    }
    result = backtest.backtest(
        pieces=pieces,
        samples=samples,
        candidate=terms("0.025", minimum="15.00"),
        cost_per_gib_month=Decimal("0.01"),
        month_start=JUNE[0],
        month_end=JUNE[1],
        slot_seconds=3600,
        invoiced={2: backtest.Paid(Decimal("0.20"), "INV-000007")},
    )
    first, second = result.rows
    assert (first.paid, first.invoice_number, first.would_pay) == (
        Decimal("20.00"),
        "",
        Decimal("25.00"),
    )
    assert (first.difference, first.cost, first.margin) == (
        Decimal("5.00"),
        Decimal("9.31"),
        Decimal("15.69"),
    )
    assert first.gib_months == Decimal("931.322575")
    assert (second.paid, second.invoice_number, second.would_pay) == (
        Decimal("0.20"),
        "INV-000007",
        Decimal("15.00"),
    )
    assert (second.difference, second.cost, second.margin) == (
        Decimal("14.80"),
        Decimal("0.09"),
        Decimal("14.91"),
    )
    total = result.total
    assert (total.paid, total.would_pay, total.difference) == (
        Decimal("20.20"),
        Decimal("40.00"),
        Decimal("19.80"),
    )
    assert (total.cost, total.margin, total.paid_margin) == (
        Decimal("9.40"),
        Decimal("30.60"),
        Decimal("10.80"),
    )


def test_a_filespace_cut_by_a_plan_change_is_one_customer_and_the_minimum_counts_per_plan():
    """1 TB all June, on plan 7 (0.02, minimum 30.00) until 11 June and plan 8 (0.03) after.
    Paid: 333.333333 * 0.02 = 6.67 topped up to plan 7's prorated minimum 30 * 10/30 = 10.00,
    plus 666.666667 * 0.03 = 20.00: 30.00. Under one candidate at 0.02 with no minimum:
    6.67 + 13.33 (666.666667 * 0.02 = 13.33333334) = 20.00."""
    pieces = [
        backtest.Piece(1, 11, 7, terms("0.02", minimum="30"), JUNE[0], at("2026-06-11T00:00")),
        backtest.Piece(1, 11, 8, terms("0.03"), at("2026-06-11T00:00"), JUNE[1]),
    ]
    result = backtest.backtest(
        pieces=pieces,
        samples={11: hourly("2026-06-01T00:00", "2026-07-01T00:00", TB)},
        candidate=terms("0.02"),
        cost_per_gib_month=Decimal(0),
        month_start=JUNE[0],
        month_end=JUNE[1],
        slot_seconds=3600,
        invoiced={},
    )
    (row,) = result.rows
    assert (row.filespaces, row.paid, row.would_pay, row.difference) == (
        1,
        Decimal("30.00"),
        Decimal("20.00"),
        Decimal("-10.00"),
    )
    assert row.cost == Decimal("0.00")


def test_a_piece_in_another_currency_is_refused_rather_than_added_up():
    piece = backtest.Piece(1, 11, 7, rating.PlanTerms("EUR", "GB", Decimal("0.02")), *JUNE)
    with pytest.raises(rating.RatingError):
        backtest.backtest(
            pieces=[piece],
            samples={},
            candidate=terms("0.02"),
            cost_per_gib_month=Decimal(0),
            month_start=JUNE[0],
            month_end=JUNE[1],
            slot_seconds=3600,
            invoiced={},
        )


# -- From the database -------------------------------------------------------------------------


@pytest.fixture
def june(live_filespace, plan_factory, customer_factory):
    """Customers A (1 TB all June), B (10 GB, invoiced and finalized) and D (1 TB from the 16th,
    already on the candidate plan) on IBM storage in USD; C on Wasabi and E in EUR, not
    comparable."""
    current = plan_factory(name="Teams Standard", cost_per_gib_month=Decimal("0.01"))
    candidate = plan_factory(
        name="Teams Plus",
        price_per_unit_month=Decimal("0.025"),
        minimum_monthly_charge=Decimal("15.00"),
        cost_per_gib_month=Decimal("0.01"),
        is_active=False,
    )
    wasabi = plan_factory(name="Basic", subscription_type="basic", provider="Wasabi")
    euro = plan_factory(name="Teams EUR", currency="EUR")
    customers = {key: customer_factory(name=f"Customer {key}") for key in "ABCDE"}
    layout = [
        ("A", current, "2026-05-01T00:00", TB),
        ("B", current, "2026-05-01T00:00", 10**10),
        ("C", wasabi, "2026-05-01T00:00", TB),
        ("D", candidate, "2026-06-16T00:00", TB),
        ("E", euro, "2026-05-01T00:00", TB),
    ]
    for key, plan, ready, used in layout:
        filespace = live_filespace(customer=customers[key], plan=plan, ready=ready)
        write_samples(filespace, max(ready, "2026-06-01T00:00"), "2026-07-01T00:00", used)
    with time_machine.travel("2026-07-02T09:00:00Z", tick=False):
        services.invoice_run(year=2026, month=6)
    invoice_b = customers["B"].invoices.get()
    finalized = services.invoice_finalize(invoice_id=invoice_b.pk)
    return {"plans": (current, candidate), "customers": customers, "number": finalized.number}


def run(plan, *, candidate=None, cost=None):
    return plan_backtest(
        plan=plan,
        candidate=candidate or plan_terms(plan),
        cost_per_gib_month=plan.cost_per_gib_month if cost is None else cost,
        month_start=JUNE[0],
        month_end=JUNE[1],
    )


@pytest.mark.django_db
def test_customers_on_comparable_plans_are_compared_with_what_they_paid(june):
    """A: 20.00 → 25.00, cost 9.31. B: its invoice's 0.20 → 15.00 (minimum), cost 0.09.
    D: already on Teams Plus, 500 GB-month * 0.025 = 12.50 both ways (prorated minimum 7.50),
    cost 465.661287 * 0.01 = 4.66. C (Wasabi) and E (EUR) are not compared."""
    _current, candidate = june["plans"]
    page = run(candidate)
    by_name = {name: row for name, row in page.named_rows}
    assert list(by_name) == ["Customer A", "Customer B", "Customer D"]
    figures = {
        name: (row.paid, row.invoice_number, row.would_pay, row.difference, row.cost, row.margin)
        for name, row in by_name.items()
    }
    assert figures == {
        "Customer A": (Decimal("20.00"), "", Decimal("25.00"), Decimal("5.00"),
                       Decimal("9.31"), Decimal("15.69")),
        "Customer B": (Decimal("0.20"), june["number"], Decimal("15.00"), Decimal("14.80"),
                       Decimal("0.09"), Decimal("14.91")),
        "Customer D": (Decimal("12.50"), "", Decimal("12.50"), Decimal("0.00"),
                       Decimal("4.66"), Decimal("7.84")),
    }  # fmt: skip
    total = page.result.total
    assert (total.paid, total.would_pay, total.difference, total.cost, total.margin) == (
        Decimal("32.70"),
        Decimal("52.50"),
        Decimal("19.80"),
        Decimal("14.06"),
        Decimal("38.44"),
    )


@pytest.mark.django_db
def test_draft_terms_replace_the_plans_own(june):
    """Teams Standard at a draft 0.03: A 30.00, B 0.30 (no minimum), D 500 * 0.03 = 15.00."""
    current, _candidate = june["plans"]
    draft = plan_terms(current)
    draft = rating.PlanTerms(USD, "GB", Decimal("0.03"), tiers=draft.tiers)
    page = run(current, candidate=draft, cost=Decimal("0.02"))
    would = [row.would_pay for _name, row in page.named_rows]
    assert would == [Decimal("30.00"), Decimal("0.30"), Decimal("15.00")]
    # 931.322575 * 0.02 = 18.6264515 → 18.63; 9.313226 * 0.02 → 0.19; 465.661287 * 0.02 → 9.31.
    assert [row.cost for _name, row in page.named_rows] == [
        Decimal("18.63"),
        Decimal("0.19"),
        Decimal("9.31"),
    ]


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_a_back_test_writes_nothing(june):
    _current, candidate = june["plans"]
    before = _row_counts()
    with CaptureQueriesContext(connection) as queries:
        run(candidate)
    statements = [q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries]
    assert set(statements) == {"SELECT"}, statements
    assert _row_counts() == before


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_customers(live_filespace, plan_factory):
    plan = plan_factory(name="Teams Standard")

    def queries_for_customers() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = run(plan)
        return len(queries.captured_queries), len(page.result.rows)

    def add_customer() -> None:
        filespace = live_filespace(plan=plan, ready="2026-05-01T00:00")
        write_samples(filespace, "2026-06-01T00:00", "2026-07-01T00:00", TB)

    add_customer()
    one, rows = queries_for_customers()
    assert rows == 1
    for _ in range(5):
        add_customer()
    many, rows = queries_for_customers()
    assert (many, rows) == (one, 6)
