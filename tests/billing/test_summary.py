"""Month-to-date summaries (no database): rating from a summary equals rating from raw samples."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import rating, summary

JUNE = rating.month_bounds(2026, 6)
JUNE_0 = int(JUNE[0].timestamp())
HOUR = 3600
MONTH_SLOTS = 30 * 24


def terms(rule: str, **extra) -> rating.PlanTerms:
    return rating.PlanTerms(
        currency="USD",
        unit="GB",
        price_per_unit_month=Decimal("0.023"),
        quantity_rule=rule,
        **extra,
    )


def rate_both(series, start, end, plan, as_of=None):
    window = {
        "terms": plan,
        "window_start": start,
        "window_end": end,
        "month_start": JUNE[0],
        "month_end": JUNE[1],
        "slot_seconds": HOUR,
        "as_of": as_of,
    }
    raw = rating.rate_usage(samples=dict(series), **window)
    summed = rating.rate_usage(samples=summary.summarize(series, HOUR), **window)
    return raw, summed


series_strategy = st.dictionaries(
    keys=st.integers(min_value=0, max_value=MONTH_SLOTS - 1).map(lambda i: JUNE_0 + i * HOUR),
    values=st.integers(min_value=0, max_value=10**13),
    min_size=1,
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    series=series_strategy,
    rule=st.sampled_from(rating.QuantityRule.ALL),
    start_cut=st.integers(min_value=0, max_value=30 * 86400),
    end_cut=st.integers(min_value=0, max_value=30 * 86400),
    horizon_cut=st.none() | st.integers(min_value=0, max_value=30 * 86400),
    tiered=st.booleans(),
)
def test_a_covered_window_rates_the_same_from_the_summary_as_from_raw_samples(
    series, rule, start_cut, end_cut, horizon_cut, tiered
):
    first, last = min(series), max(series)
    start = JUNE[0] + timedelta(seconds=min(start_cut, first - JUNE_0 + HOUR - 1))
    end_floor = last - JUNE_0 + 1
    end = JUNE[0] + timedelta(seconds=max(end_floor, 30 * 86400 - end_cut))
    end = max(end, start + timedelta(seconds=1))
    as_of = None
    if horizon_cut is not None:
        as_of = JUNE[0] + timedelta(seconds=max(last - JUNE_0, 30 * 86400 - horizon_cut))
    extra = {"included_units": Decimal(3), "minimum_monthly_charge": Decimal(5)}
    if tiered:
        extra["tiers"] = (rating.Tier(Decimal(100), Decimal("0.05")), rating.Tier(None, Decimal(0)))

    raw, summed = rate_both(series, start, end, terms(rule, **extra), as_of=as_of)

    assert summed == raw


@given(series=series_strategy, split=st.integers(min_value=1, max_value=119))
def test_appending_samples_one_by_one_equals_summarizing_them_at_once(series, split):
    ordered = sorted(series.items())
    early = summary.summarize(dict(ordered[:split]), HOUR)
    for epoch, value in ordered[split:]:
        early = summary.summary_append(early, epoch, value, HOUR)

    assert early == summary.summarize(series, HOUR)


def test_a_window_cutting_into_the_samples_is_refused_rather_than_rated_wrong():
    series = {JUNE_0 + i * HOUR: 10**12 for i in range(48)}
    month = summary.summarize(series, HOUR)

    assert not summary.covers(month, JUNE_0 + 5 * HOUR, JUNE_0 + 100 * HOUR, None)
    assert not summary.covers(month, JUNE_0, JUNE_0 + 47 * HOUR, None)
    with pytest.raises(summary.SummaryError):
        rate_both(series, JUNE[0] + timedelta(hours=5), JUNE[1], terms("time_weighted"))


def test_an_out_of_order_or_off_grid_sample_cannot_be_appended():
    month = summary.summarize({JUNE_0 + HOUR: 1}, HOUR)

    with pytest.raises(summary.SummaryError):
        summary.summary_append(month, JUNE_0, 5, HOUR)
    with pytest.raises(summary.SummaryError):
        summary.summary_append(month, JUNE_0 + 2 * HOUR + 1, 5, HOUR)
    assert summary.summarize({JUNE_0 + 30: 1}, HOUR) is None


def test_a_gap_between_two_samples_is_summed_at_the_lower_neighbour():
    month = summary.summarize({JUNE_0: 10, JUNE_0 + 4 * HOUR: 4}, HOUR)

    assert (month.slot_sum, month.slot_count, month.gap_count) == (10 + 3 * 4 + 4, 5, 3)
