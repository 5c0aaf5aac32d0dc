"""Pure rating rules (no database): windows, gaps, splitting, tiers, rounding."""

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import rating, summary

JUNE = rating.month_bounds(2026, 6)
TERMS = rating.PlanTerms(currency="USD", unit="GB", price_per_unit_month=Decimal("0.023"))


def hourly(start: datetime, values: list[int]) -> list[rating.Sample]:
    return [rating.Sample(start + timedelta(hours=i), v) for i, v in enumerate(values)]


def rate(samples, start=JUNE[0], end=JUNE[1], terms=TERMS, **kwargs) -> rating.LineRating:
    return rating.rate_usage(
        terms=terms, samples=samples, window_start=start, window_end=end,
        month_start=JUNE[0], month_end=JUNE[1], slot_seconds=3600, **kwargs,
    )  # fmt: skip


def test_month_lengths_are_28_30_and_31_days():
    lengths = [(e - s).days for s, e in (rating.month_bounds(2026, m) for m in (2, 4, 3))]
    assert lengths == [28, 30, 31]
    assert (lambda s, e: (e - s).days)(*rating.month_bounds(2028, 2)) == 29


def test_the_billable_window_runs_from_ready_to_deleted_inside_the_period():
    ready, deleted = datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 6, 20, tzinfo=UTC)
    window = rating.billable_window(
        period_start=JUNE[0], period_end=JUNE[1], ready_at=ready, deleted_at=deleted
    )
    assert window == (ready, deleted)
    assert (
        rating.billable_window(
            period_start=JUNE[0], period_end=JUNE[1], ready_at=None, deleted_at=None
        )
        is None
    )
    assert (
        rating.billable_window(
            period_start=JUNE[0], period_end=JUNE[1], ready_at=ready, deleted_at=JUNE[0]
        )
        is None
    )
    # Not deleted: billable to the end of the period.
    assert rating.billable_window(
        period_start=JUNE[0], period_end=JUNE[1], ready_at=ready, deleted_at=None
    ) == (ready, JUNE[1])
    # Deleted the moment it became ready: no window, so no line of zero length.
    assert (
        rating.billable_window(
            period_start=JUNE[0], period_end=JUNE[1], ready_at=ready, deleted_at=ready
        )
        is None
    )


def test_a_gap_takes_the_lower_neighbour():
    start = JUNE[0]
    later = start + timedelta(hours=3)
    samples = [rating.Sample(start, 5 * 10**9), rating.Sample(later, 2 * 10**9)]
    values = rating.slot_values(
        samples=samples, window_start=start, window_end=start + timedelta(hours=4),
        slot_seconds=3600,
    )  # fmt: skip
    assert [(v.used_bytes, v.filled) for v in values] == [
        (5 * 10**9, False), (2 * 10**9, True), (2 * 10**9, True), (2 * 10**9, False),
    ]  # fmt: skip


def test_a_filespace_without_any_sample_is_rated_at_zero_and_says_so():
    line = rate([])
    assert (line.quantity, line.amount, line.gap_slots) == (Decimal(0), Decimal("0.00"), 720)
    assert line.gap_note.startswith("720 of 720 sampling slots")


def test_a_window_that_starts_mid_slot_weighs_the_slot_by_its_overlap():
    start = JUNE[0] + timedelta(minutes=30)
    line = rate(hourly(JUNE[0], [720 * 10**9]), start=start, end=JUNE[0] + timedelta(hours=1))
    assert line.active_seconds == 1800
    assert line.quantity == Decimal("0.500000")


def test_projected_slots_are_not_reported_as_gaps():
    as_of = JUNE[0] + timedelta(days=15)
    line = rate(hourly(JUNE[0], [10**12] * 360), as_of=as_of)
    assert (line.gap_slots, line.projected_slots) == (0, 360)
    assert line.quantity == Decimal("1000.000000")


def test_tier_limits_scale_with_the_active_share_of_the_month():
    terms = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
        tiers=(
            rating.Tier(Decimal(1000), Decimal("0.03")),
            rating.Tier(Decimal(2000), Decimal("0.02")),
        ),
    )  # fmt: skip
    half = JUNE[0] + timedelta(days=15)
    # 3 TB for half of June: 1,500 GB-month; bands become 500 and 1,000 GB-month.
    line = rate(hourly(half, [3 * 10**12] * 360), start=half, terms=terms)
    assert line.tier_breakdown == (
        (Decimal("500.000000"), Decimal("0.03")), (Decimal("500.000000"), Decimal("0.02")),
        (Decimal("500.000000"), Decimal("0.01")),
    )  # fmt: skip
    assert line.amount == Decimal("30.00")


TIERED = rating.PlanTerms(
    currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
    tiers=(
        rating.Tier(Decimal(1000), Decimal("0.03")), rating.Tier(Decimal(2000), Decimal("0.02")),
    ),
)  # fmt: skip


def _tiered_line(gb: str) -> rating.LineRating:
    """A whole June at a constant `gb` gigabytes: exactly `gb` GB-month billable."""
    return rate(hourly(JUNE[0], [int(Decimal(gb) * 10**9)] * 720), terms=TIERED)


def test_usage_inside_the_first_tier_pays_that_tier_only():
    line = _tiered_line("700")
    assert line.tier_breakdown == ((Decimal("700.000000"), Decimal("0.03")),)
    assert line.amount == Decimal("21.00")


@pytest.mark.parametrize(
    ("gb", "breakdown", "amount"),
    [
        # Half a unit past a tier's limit pays the next tier's price, not the base price.
        ("1000.5", (("1000.000000", "0.03"), ("0.500000", "0.02")), "30.01"),
        # Half a unit past the last bounded tier pays the base price; it is not dropped.
        ("2000.5",
         (("1000.000000", "0.03"), ("1000.000000", "0.02"), ("0.500000", "0.01")), "50.01"),
    ],
)  # fmt: skip
def test_a_fraction_of_a_unit_past_a_tier_limit_is_priced_by_the_band_it_falls_in(
    gb, breakdown, amount
):
    line = _tiered_line(gb)
    assert line.tier_breakdown == tuple((Decimal(q), Decimal(p)) for q, p in breakdown)
    assert line.amount == Decimal(amount)


def test_a_tier_that_takes_nothing_prints_no_band():
    # A band whose limit does not rise above the one before it takes no units; the invoice
    # prints no band of zero units for it.
    terms = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
        tiers=(
            rating.Tier(Decimal(1000), Decimal("0.03")),
            rating.Tier(Decimal(1000), Decimal("0.02")),
        ),
    )  # fmt: skip
    line = rate(hourly(JUNE[0], [1500 * 10**9] * 720), terms=terms)
    assert line.tier_breakdown == (
        (Decimal("1000.000000"), Decimal("0.03")), (Decimal("500.000000"), Decimal("0.01")),
    )  # fmt: skip


def test_the_last_rule_takes_the_last_slots_value_not_an_earlier_one():
    terms = rating.PlanTerms("USD", "GB", Decimal("0.02"), quantity_rule=rating.QuantityRule.LAST)
    line = rate(hourly(JUNE[0], [10 * 10**9] * 719 + [5 * 10**9]), terms=terms)
    assert line.quantity == Decimal("5.000000")
    assert line.amount == Decimal("0.10")


def test_each_slot_is_reported_with_its_utc_start_and_the_seconds_it_weighs():
    start = JUNE[0] + timedelta(minutes=30)
    values = rating.slot_values(
        samples=hourly(JUNE[0], [7, 9]), window_start=start,
        window_end=JUNE[0] + timedelta(hours=2), slot_seconds=3600,
    )  # fmt: skip
    assert values == [
        rating.SlotValue(JUNE[0], 1800, 7, False),
        rating.SlotValue(JUNE[0] + timedelta(hours=1), 3600, 9, False),
    ]
    assert all(value.start.tzinfo is UTC for value in values)


def test_money_is_rounded_half_up_to_the_currencys_minor_unit():
    assert rating.round_money(Decimal("0.005"), "USD") == Decimal("0.01")
    assert rating.round_money(Decimal("0.0049999"), "EUR") == Decimal("0.00")
    assert rating.round_money(Decimal("2500.5"), "JPY") == Decimal("2501")
    assert rating.round_money(Decimal("1.0005"), "KWD") == Decimal("1.001")
    # The minor unit is also what a charge is counted in (Stripe takes cents, yen, fils).
    assert [rating.minor_unit(c) for c in ("USD", "jpy", "KWD")] == [
        Decimal("0.01"), Decimal("1"), Decimal("0.001"),
    ]  # fmt: skip


def test_quantities_are_rounded_half_up_to_six_places():
    # Half-even (Decimal's default) would give 0.000002 and 1.000000.
    assert rating.quantize_quantity(Decimal("0.0000025")) == Decimal("0.000003")
    assert rating.quantize_quantity(Decimal("1.0000005")) == Decimal("1.000001")
    assert rating.quantize_quantity(Decimal("1.00000049")) == Decimal("1.000000")


def test_unknown_units_rules_and_windows_are_refused():
    with pytest.raises(rating.RatingError, match="unit"):
        rate([], terms=rating.PlanTerms("USD", "TB", Decimal(1)))
    with pytest.raises(rating.RatingError, match="rule"):
        rate([], terms=rating.PlanTerms("USD", "GB", Decimal(1), quantity_rule="median"))
    # The reasons are what staff read when an invoice run stops on one: exact and capitalised.
    with pytest.raises(rating.RatingError, match=r"^The window must lie inside its month\.$"):
        rate([], end=JUNE[1] + timedelta(hours=1))
    # The database's figures and a month's summary are used only when made for this window and
    # this sampling interval.
    day = JUNE[0] + timedelta(days=1)
    figures = summary.WindowFigures(
        byte_seconds=0, slot_count=24, active_seconds=86_400, gap_slots=0, projected_slots=0,
        level=Decimal(0),
    )  # fmt: skip
    assert rate([], end=day, figures=figures).amount == Decimal("0.00")
    with pytest.raises(
        rating.RatingError, match=r"^The figures were computed for another window\.$"
    ):
        rate([], end=day + timedelta(hours=1), figures=figures)
    month = summary.summarize({int(JUNE[0].timestamp()): 10**9}, 1800)
    with pytest.raises(
        rating.RatingError, match=r"^The summary was made for another sampling interval\.$"
    ):
        rate(month)


def test_a_plan_history_cuts_the_window_where_the_plan_changed():
    change = JUNE[0] + timedelta(days=10)
    pieces = rating.split_by_plan(
        window_start=JUNE[0] + timedelta(days=2), window_end=JUNE[1],
        assignments=[(change, "B"), (datetime(2020, 1, 1, tzinfo=UTC), "A")],
    )  # fmt: skip
    assert pieces == [(JUNE[0] + timedelta(days=2), change, "A"), (change, JUNE[1], "B")]


def test_a_plan_history_is_read_in_time_order_whatever_the_plans_are():
    # Three plans whose names sort against their dates: the pieces follow the dates.
    first, second = JUNE[0] + timedelta(days=10), JUNE[0] + timedelta(days=20)
    pieces = rating.split_by_plan(
        window_start=JUNE[0], window_end=JUNE[1],
        assignments=[(second, "A"), (datetime(2020, 1, 1, tzinfo=UTC), "C"), (first, "B")],
    )  # fmt: skip
    assert pieces == [(JUNE[0], first, "C"), (first, second, "B"), (second, JUNE[1], "A")]


def test_two_plans_from_the_same_moment_are_not_compared_and_the_later_listed_wins():
    # Plans are model rows, which have no order: a tie on the date must not compare them.
    earlier, later = object(), object()
    pieces = rating.split_by_plan(
        window_start=JUNE[0], window_end=JUNE[1], assignments=[(JUNE[0], earlier), (JUNE[0], later)]
    )
    assert pieces == [(JUNE[0], JUNE[1], later)]


def test_the_first_plan_covers_the_window_before_its_history_starts():
    late = JUNE[0] + timedelta(days=5)
    pieces = rating.split_by_plan(
        window_start=JUNE[0], window_end=JUNE[1], assignments=[(late, "A")]
    )
    assert pieces == [(JUNE[0], JUNE[1], "A")]


def test_a_plan_change_at_the_window_start_leaves_no_empty_piece():
    start = JUNE[0] + timedelta(days=2)
    pieces = rating.split_by_plan(
        window_start=start, window_end=JUNE[1],
        assignments=[(datetime(2020, 1, 1, tzinfo=UTC), "A"), (start, "B")],
    )  # fmt: skip
    assert pieces == [(start, JUNE[1], "B")]


def test_a_filespace_without_a_plan_cannot_be_rated():
    with pytest.raises(
        rating.RatingError, match=r"^A filespace needs at least one plan to be rated"
    ):
        rating.split_by_plan(window_start=JUNE[0], window_end=JUNE[1], assignments=[])


usage = st.lists(st.integers(min_value=0, max_value=5 * 10**13), min_size=720, max_size=720)


@settings(max_examples=60, deadline=None)
@given(
    values=usage,
    cut_hours=st.integers(min_value=1, max_value=719),
    price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=6),
    holes=st.sets(st.integers(min_value=0, max_value=719), max_size=50),
)
def test_rating_a_month_in_two_parts_adds_up_to_rating_it_whole(values, cut_hours, price, holes):
    samples = [s for i, s in enumerate(hourly(JUNE[0], values)) if i not in holes]
    terms = rating.PlanTerms(currency="USD", unit="GiB", price_per_unit_month=price)
    cut = JUNE[0] + timedelta(hours=cut_hours, minutes=17)
    whole = rate(samples, terms=terms)
    first = rate(samples, end=cut, terms=terms)
    second = rate(samples, start=cut, terms=terms)

    # Written rule (docs/billing.md, rule 11): at most one minor unit apart per cut.
    assert abs(first.amount + second.amount - whole.amount) <= Decimal("0.01")
    assert abs(first.quantity + second.quantity - whole.quantity) <= Decimal("0.000001")
    assert first.active_seconds + second.active_seconds == whole.active_seconds
    assert first.gap_slots + second.gap_slots >= whole.gap_slots


@settings(max_examples=60, deadline=None)
@given(
    truth=st.lists(st.integers(min_value=0, max_value=10**13), min_size=48, max_size=48),
    holes=st.sets(st.integers(min_value=1, max_value=46), max_size=30),
    extra=st.lists(st.integers(min_value=0, max_value=10**12), min_size=48, max_size=48),
)
def test_filled_gaps_never_charge_more_than_any_truth_at_or_above_the_lower_neighbour(
    truth, holes, extra
):
    start = JUNE[0]
    end = start + timedelta(hours=48)
    measured = {i: v for i, v in enumerate(truth) if i not in holes}
    # Whatever really happened in a gap, as long as it never fell below both neighbours...
    real = list(truth)
    for i in sorted(holes):
        before = max(k for k in measured if k < i)
        after = min(k for k in measured if k > i)
        real[i] = min(measured[before], measured[after]) + extra[i]
    billed = rate([rating.Sample(start + timedelta(hours=i), v) for i, v in measured.items()],
                  end=end)  # fmt: skip
    actual = rate(hourly(start, real), end=end)
    # ... the filled figure is never above it.
    assert billed.quantity <= actual.quantity
    assert billed.gap_slots == len(holes)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=10**14), min_size=1, max_size=80),
    start_offset=st.integers(min_value=0, max_value=3599),
    end_cut=st.integers(min_value=0, max_value=3599),
)
def test_the_no_gap_shortcut_equals_slot_by_slot_rating(values, start_offset, end_cut):
    series = {int(JUNE[0].timestamp()) + 3600 * i: v for i, v in enumerate(values)}
    start = int(JUNE[0].timestamp()) + start_offset
    end = max(start + 1, int(JUNE[0].timestamp()) + 3600 * len(values) - end_cut)

    shortcut = rating._complete_byte_seconds(series, start, end, 3600)
    rows = rating._slot_rows(series, start, end, 3600)

    assert shortcut == (sum(s * v for _, s, v, _ in rows), len(rows), sum(s for _, s, _, _ in rows))
    assert not any(filled for *_, filled in rows)


def test_the_minimum_true_up_adds_up_every_line_of_the_plan():
    # Two filespaces on one plan: minimums 5.00 + 5.00, charged 1.00 + 2.00.
    assert rating.minimum_true_up(
        [(Decimal("5.00"), Decimal("1.00")), (Decimal("5.00"), Decimal("2.00"))]
    ) == Decimal("7.00")
    # One line above its minimum makes up for another below it.
    assert rating.minimum_true_up(
        [(Decimal("5.00"), Decimal("9.00")), (Decimal("5.00"), Decimal("0.00"))]
    ) == Decimal("1.00")
    assert rating.minimum_true_up([(Decimal("5.00"), Decimal("6.00"))]) == Decimal(0)


def test_money_is_written_with_its_iso_code_grouped_and_rounded():
    assert rating.format_money(Decimal("1234567.005"), "USD") == "USD 1,234,567.01"
    assert rating.format_money(Decimal("2500.5"), "JPY") == "JPY 2,501"


def test_the_month_of_a_moment_is_its_utc_month():
    assert rating.month_of(datetime(2026, 6, 15, 12, tzinfo=UTC)) == JUNE
    # 23:30 on 30 June in New York is already July in UTC.
    new_york = timezone(timedelta(hours=-4))
    assert rating.month_of(datetime(2026, 6, 30, 23, 30, tzinfo=new_york)) == (
        rating.month_bounds(2026, 7)
    )


def test_a_moment_falls_in_the_slot_aligned_to_the_epoch_before_it():
    moment = datetime(2026, 6, 1, 10, 17, 42, tzinfo=UTC)
    assert rating.slot_start(moment, 300) == datetime(2026, 6, 1, 10, 15, tzinfo=UTC)
    assert rating.slot_start(moment, 3600) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert rating.slot_start(moment, 300).tzinfo is UTC


def test_the_month_of_a_moment_does_not_depend_on_the_servers_time_zone(monkeypatch):
    # A server whose local zone is New York: 02:00 UTC on 1 July is still June there.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        moment = datetime(2026, 7, 1, 2, tzinfo=UTC)
        assert rating.month_of(moment) == rating.month_bounds(2026, 7)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_each_line_shows_the_customer_how_it_was_computed_with_its_figures():
    X = rating.TIMES  # the multiplication sign
    # The formula and the gap note are printed on the invoice's line page (docs/billing.md):
    # every figure in them is checked here by hand, not copied from a run.
    samples = hourly(JUNE[0], [10 * 10**9] * 720)
    del samples[100]  # one hour without a measurement
    flat = rate(samples)
    # 10 GB x 30 days x 86,400 s = 2.592e16 byte-seconds; 10 GB-month x 0.023 = 0.23.
    assert flat.formula == (
        f"Σ(bytes {X} seconds) 25920000000000000 / (1000000000 B/GB {X} 2592000 s in month)"
        " = 10.000000 GB-month; included 0.000000 GB-month; billable 10.000000 GB-month;"
        f" 10.000000 {X} 0.023 USD = 0.23 → 0.23 USD (half-up)"
    )
    assert flat.gap_note == (
        "1 of 720 sampling slots had no measurement; each was filled with the lower"
        " neighbouring measurement, in your favour."
    )
    terms = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
        quantity_rule=rating.QuantityRule.AVERAGE_DAILY_PEAK, included_units=Decimal(100),
        tiers=TIERED.tiers,
    )  # fmt: skip
    tiered = rate(hourly(JUNE[0], [1500 * 10**9] * 720), terms=terms)
    # 1,500 GB-month less 100 included: 1,000 x 0.03 + 400 x 0.02 = 38.
    assert tiered.formula == (
        f"average daily peak 1500000000000 B / 1000000000 B/GB {X} 2592000 s active / 2592000 s"
        " in month = 1500.000000 GB-month; included 100.000000 GB-month; billable 1400.000000"
        f" GB-month; tiers 1000.000000 {X} 0.03 + 400.000000 {X} 0.02 = 38 → 38.00 USD (half-up)"
    )
    assert tiered.gap_note == ""  # no gap, no note


def test_a_line_rated_without_its_explanation_has_every_figure_and_no_formula():
    # Pages rate without the formula (explain=False); the figures must not move.
    samples = hourly(JUNE[0], [10 * 10**9] * 720)
    del samples[100]
    terms = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
        quantity_rule=rating.QuantityRule.AVERAGE_DAILY_PEAK, included_units=Decimal(3),
        tiers=TIERED.tiers,
    )  # fmt: skip
    for line_terms in (TERMS, terms):
        explained = rate(samples, terms=line_terms, as_of=JUNE[0] + timedelta(days=20))
        bare = rate(samples, terms=line_terms, as_of=JUNE[0] + timedelta(days=20), explain=False)
        assert explained.formula and bare.formula == ""
        assert bare == dataclasses.replace(explained, formula="")


def test_a_gap_after_the_last_measurement_is_filled_with_that_measurement():
    # 5 GB then 10 GB, then two hours without a measurement: those hours count 10 GB each
    # (the only neighbour), not the 5 GB before it.
    three_hours = JUNE[0] + timedelta(hours=4)
    line = rate(hourly(JUNE[0], [5 * 10**9, 10 * 10**9]), end=three_hours)
    assert (line.slot_count, line.gap_slots) == (4, 2)
    # (5 + 10 + 10 + 10) GB-hours over the 720 hours of June.
    assert line.quantity == rating.quantize_quantity(Decimal(35) / Decimal(720))


def test_a_line_carries_what_the_invoice_line_stores():
    start = JUNE[0] + timedelta(days=10)
    line = rate(hourly(start, [2 * 10**9] * 480), start=start)
    assert (line.window_start, line.window_end) == (start, JUNE[1])
    assert (line.unit, line.quantity_rule, line.currency) == ("GB", "time_weighted", "USD")
    assert (line.active_seconds, line.month_seconds) == (480 * 3600, 720 * 3600)
    assert (line.quantity, line.included, line.billable) == (
        Decimal("1.333333"), Decimal("0.000000"), Decimal("1.333333"),
    )  # fmt: skip
    assert (line.slot_count, line.gap_slots, line.amount) == (480, 0, Decimal("0.03"))


def test_a_gap_before_the_first_measurement_is_filled_with_that_measurement():
    # Two hours without a measurement, then 5 GB and 10 GB: the first two hours count 5 GB
    # (the only neighbour they have), not 10 GB.
    line = rate(hourly(JUNE[0] + timedelta(hours=2), [5 * 10**9, 10 * 10**9]),
                end=JUNE[0] + timedelta(hours=4))  # fmt: skip
    assert (line.slot_count, line.gap_slots) == (4, 2)
    # (5 + 5 + 5 + 10) GB-hours over the 720 hours of June.
    assert line.quantity == rating.quantize_quantity(Decimal(25) / Decimal(720))
