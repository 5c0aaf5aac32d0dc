"""How a plan row becomes the terms the rating prices with (billing.services.pricing.plan_terms),
and which part of the month a month-to-date figure rates (plan_pieces with `as_of`)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing import rating
from billing.services import pricing

pytestmark = pytest.mark.django_db
JUNE, JULY = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)


def test_a_tiered_plan_keeps_each_bands_limit_price_rule_and_minimum(plan_factory):
    plan = plan_factory(
        billing_unit="gb",
        quantity_rule=rating.QuantityRule.PEAK,
        included_units=Decimal("10"),
        minimum_monthly_charge=Decimal("25.00"),
        price_tiers=[
            {"up_to": 100, "price": "0.030"},
            {"up_to": "1000", "price": "0.020"},
            {"up_to": "", "price": "0.010"},
        ],
    )

    terms = pricing.plan_terms(plan)

    assert terms == rating.PlanTerms(
        currency=plan.currency,
        unit="gb",
        price_per_unit_month=plan.price_per_unit_month,
        quantity_rule=rating.QuantityRule.PEAK,
        included_units=Decimal("10"),
        minimum_monthly_charge=Decimal("25.00"),
        tiers=(
            rating.Tier(Decimal("100"), Decimal("0.030")),
            rating.Tier(Decimal("1000"), Decimal("0.020")),
            rating.Tier(None, Decimal("0.010")),
        ),
    )


def test_a_month_to_date_figure_stops_at_its_moment_and_a_forecast_runs_to_the_months_end(
    filespace_factory,
):
    filespace = filespace_factory(state="active", provisioned_at=datetime(2026, 5, 20, tzinfo=UTC))
    as_of = datetime(2026, 6, 10, 12, tzinfo=UTC)

    so_far = pricing.plan_pieces(filespace, {}, JUNE, JULY, as_of=as_of, forecast=False)
    forecast = pricing.plan_pieces(filespace, {}, JUNE, JULY, as_of=as_of, forecast=True)

    assert so_far == [(JUNE, as_of, filespace.plan)]
    assert forecast == [(JUNE, JULY, filespace.plan)]
