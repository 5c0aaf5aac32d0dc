"""How a plan row becomes the terms the rating prices with (billing.services.pricing.plan_terms),
which part of the month a month-to-date figure rates (plan_pieces with `as_of`), and which
samples the month's inputs read (sample_facts, rating_inputs)."""

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


def test_the_months_samples_are_read_within_the_month_and_for_the_filespaces_asked(
    filespace_factory,
):
    """A sample of 31 May 23:00 or of 1 July belongs to another invoice."""
    from tests.billing.conftest import write_samples

    one, other = filespace_factory(name="one"), filespace_factory(name="other")
    write_samples(one, "2026-05-31T23:00:00Z", "2026-06-01T02:00:00Z", 5, summarize=False)
    write_samples(one, "2026-06-30T23:00:00Z", "2026-07-01T01:00:00Z", 7, summarize=False)
    write_samples(other, "2026-06-10T00:00:00Z", "2026-06-10T01:00:00Z", 9, summarize=False)
    june_1, june_1_1h, june_30_23h = (
        int(datetime(2026, 6, d, h, tzinfo=UTC).timestamp()) for d, h in ((1, 0), (1, 1), (30, 23))
    )

    assert pricing.sample_facts(month_start=JUNE, month_end=JULY, filespace_ids=[one.pk]) == {
        one.pk: (3, june_1, june_30_23h, 17)
    }
    every = pricing.sample_facts(month_start=JUNE, month_end=JULY)
    assert set(every) == {one.pk, other.pk}
    assert pricing.rating_inputs(filespaces=[one], month_start=JUNE, month_end=JULY).samples == {
        one.pk: {june_1: 5, june_1_1h: 5, june_30_23h: 7}
    }


@pytest.mark.parametrize("inputs", ["rating_inputs", "summary_inputs", "invoice_inputs"])
def test_no_filespaces_means_empty_inputs_without_a_query(inputs, django_assert_num_queries):
    extra = {"as_of": None} if inputs == "summary_inputs" else {}

    with django_assert_num_queries(0):
        loaded = getattr(pricing, inputs)(filespaces=[], month_start=JUNE, month_end=JULY, **extra)

    assert loaded == pricing.RatingInputs(history={}, samples={})
