"""What billing.services.pricing.rate_filespaces puts on each line: the usage lines in the order
an invoice shows them, every figure and word of them, the minimum charge's true-up per plan,
figures the database integrated, and the month-to-date and forecast windows; and which
filespaces invoice_rate_customer rates."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing import services
from billing.models import InvoiceLine
from billing.services import integrals, pricing
from billing.summary import SeriesSummary, WindowFigures
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db
JUNE, JULY = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
GB = 10**9
JUNE_SECONDS = 30 * 86400


@pytest.fixture
def month(live_filespace, plan_factory, customer_factory):
    """Two full-month filespaces on a plan with a minimum (listed by name: `zeta` was created
    first), and one from 16 June on a plan without."""
    customer = customer_factory(name_prefix="acme")
    minimum = plan_factory(name="Small", minimum_monthly_charge=Decimal("5.00"))
    plain = plan_factory(name="Plain", price_per_unit_month=Decimal("0.03"))
    zeta = live_filespace(customer=customer, plan=minimum, name="zeta", ready="2026-05-01T00:00")
    alpha = live_filespace(customer=customer, plan=minimum, name="alpha", ready="2026-05-01T00:00")
    late = live_filespace(customer=customer, plan=plain, name="late", ready="2026-06-16T00:00")
    write_samples(zeta, "2026-06-01T00:00", "2026-07-01T00:00", 275 * GB)
    write_samples(alpha, "2026-06-01T00:00", "2026-07-01T00:00", 200 * GB)
    write_samples(late, "2026-06-16T00:00", "2026-07-01T00:00", 100 * GB)
    return customer, minimum, plain, [zeta, alpha, late]


def usage_line(filespace, plan, start, end, **figures) -> pricing.LineSpec:
    return pricing.LineSpec(
        kind=InvoiceLine.Kind.USAGE,
        description=figures.pop("description"),
        filespace_id=filespace.pk,
        plan_id=plan.pk,
        window_start=start,
        window_end=end,
        slot_seconds=3600,
        unit="GB",
        quantity_rule="time_weighted",
        included=Decimal(0),
        unit_price=plan.price_per_unit_month,
        gap_slots=0,
        note="",
        formula=figures.pop("formula", ""),
        **figures,
    )


def assert_page_inputs_rate_as_the_raw_samples(window: dict, *, as_of, forecast: bool) -> None:
    """The page's inputs for `as_of` read the raw samples and rate exactly as they do."""
    fast = pricing.summary_inputs(**window, as_of=as_of)
    raw = pricing.rating_inputs(**window)

    assert fast.samples == raw.samples
    rate = {**window, "as_of": as_of, "forecast": forecast}
    assert pricing.rate_filespaces(**rate, inputs=fast) == pricing.rate_filespaces(
        **rate, inputs=raw
    )


def test_each_line_carries_its_figures_and_words_in_the_order_the_invoice_shows(month):
    _, small, plain, filespaces = month
    zeta, alpha, late = filespaces

    lines = pricing.rate_filespaces(filespaces=filespaces, month_start=JUNE, month_end=JULY)

    assert list(lines) == ["USD"]
    expected = [
        usage_line(alpha, small, JUNE, JULY, description="acme-alpha: Small, 1 to 30 Jun 2026",
                   quantity=Decimal(200), billable=Decimal(200), amount=Decimal("4.00"),
                   minimum_prorated=Decimal("5.00"), slot_count=720),
        usage_line(late, plain, at("2026-06-16T00:00"), JULY,
                   description="acme-late: Plain, 16 Jun 00:00 to 1 Jul 2026 00:00 UTC",
                   quantity=Decimal(50), billable=Decimal(50), amount=Decimal("1.50"),
                   minimum_prorated=Decimal(0), slot_count=360),
        usage_line(zeta, small, JUNE, JULY, description="acme-zeta: Small, 1 to 30 Jun 2026",
                   quantity=Decimal(275), billable=Decimal(275), amount=Decimal("5.50"),
                   minimum_prorated=Decimal("5.00"), slot_count=720),
        # Two 5.00 minimums against 4.00 + 5.50 charged; the plan without a minimum gets none.
        pricing.LineSpec(
            kind=InvoiceLine.Kind.MINIMUM, description="Minimum charge true-up: Small",
            filespace_id=None, plan_id=small.pk, window_start=None, window_end=None,
            slot_seconds=None, unit="", quantity_rule="", quantity=Decimal(0),
            included=Decimal(0), billable=Decimal(0),
            unit_price=Decimal(0), amount=Decimal("0.50"), minimum_prorated=Decimal("10.00"),
            slot_count=0, gap_slots=0, note="",
            formula="prorated minimum 10.00 USD minus usage charged 9.50 USD = 0.50 USD",
        ),
    ]  # fmt: skip
    got = lines["USD"]
    assert [replace(line, formula="") for line in got[:3]] == expected[:3]
    assert [line.formula.rsplit(" = ", 1)[-1] for line in got[:3]] == [
        "4 → 4.00 USD (half-up)", "1.5 → 1.50 USD (half-up)", "5.5 → 5.50 USD (half-up)"
    ]  # fmt: skip
    assert got[3:] == expected[3:]


def test_without_describe_the_lines_carry_every_figure_and_no_words(month):
    filespaces = month[3]
    window = {"filespaces": filespaces, "month_start": JUNE, "month_end": JULY}

    described = pricing.rate_filespaces(**window)["USD"]
    bare = pricing.rate_filespaces(**window, describe=False)["USD"]

    assert bare == [replace(line, description="", formula="") for line in described]


def test_a_window_the_database_integrated_is_rated_from_those_figures(live_filespace):
    """On PostgreSQL the invoice run hands over figures (pricing._integrated_inputs) and no
    samples; each window must find its own."""
    one = live_filespace(ready="2026-05-01T00:00")
    late = live_filespace(ready="2026-06-16T00:00")
    whole, half = JUNE_SECONDS, JUNE_SECONDS // 2
    figures = {
        integrals.Window(one.pk, int(JUNE.timestamp()), int(JULY.timestamp())): WindowFigures(
            byte_seconds=300 * GB * whole, slot_count=720, active_seconds=whole, gap_slots=0,
            projected_slots=0, level=Decimal(300 * GB),
        ),
        integrals.Window(late.pk, int(JUNE.timestamp()) + half, int(JULY.timestamp())):
        WindowFigures(
            byte_seconds=100 * GB * half, slot_count=360, active_seconds=half, gap_slots=0,
            projected_slots=0, level=Decimal(100 * GB),
        ),
    }  # fmt: skip
    inputs = pricing.RatingInputs(history={}, samples={}, figures=figures)

    lines = pricing.rate_filespaces(
        filespaces=[one, late], month_start=JUNE, month_end=JULY, inputs=inputs
    )["USD"]

    assert [(line.filespace_id, line.quantity, line.amount) for line in lines] == [
        (one.pk, Decimal(300), Decimal("6.00")),
        (late.pk, Decimal(50), Decimal("1.00")),
    ]


def test_a_month_to_date_figure_stops_at_its_moment_and_a_forecast_projects_the_rest(
    live_filespace,
):
    """At 10 June 12:00 the samples stop there: the forecast projects the rest of the month
    from the last one (no gap), the cost to date rates only up to that moment."""
    fs = live_filespace(ready="2026-05-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-10T12:00", 300 * GB)
    as_of = at("2026-06-10T12:00")
    window = {"filespaces": [fs], "month_start": JUNE, "month_end": JULY, "as_of": as_of}

    [so_far] = pricing.rate_filespaces(**window)["USD"]
    [forecast] = pricing.rate_filespaces(**window, forecast=True)["USD"]

    assert (so_far.window_start, so_far.window_end) == (JUNE, as_of)
    assert (so_far.quantity, so_far.amount, so_far.slot_count) == (
        Decimal(95),
        Decimal("1.90"),
        228,
    )
    assert (forecast.window_start, forecast.window_end) == (JUNE, JULY)
    assert (forecast.quantity, forecast.amount) == (Decimal(300), Decimal("6.00"))
    assert (forecast.gap_slots, forecast.note) == (0, "")


def test_a_customers_lines_are_those_of_its_own_filespaces_to_the_moment_asked(
    live_filespace, customer_factory
):
    ours, theirs = customer_factory(), customer_factory()
    fs = live_filespace(ready="2026-05-01T00:00", customer=ours)
    other = live_filespace(ready="2026-05-01T00:00", customer=theirs)
    for filespace in (fs, other):
        write_samples(filespace, "2026-06-01T00:00", "2026-07-01T00:00", 300 * GB)
    window = {"customer_id": ours.pk, "month_start": JUNE, "month_end": JULY}

    [month] = services.invoice_rate_customer(**window)["USD"]
    [so_far] = services.invoice_rate_customer(**window, as_of=at("2026-06-10T12:00"))["USD"]

    assert (month.filespace_id, month.window_end, month.amount) == (fs.pk, JULY, Decimal("6.00"))
    assert (so_far.filespace_id, so_far.window_end) == (fs.pk, at("2026-06-10T12:00"))
    assert so_far.amount == Decimal("1.90")


def test_invoice_inputs_load_the_plan_history_when_not_given(live_filespace, plan_factory):
    """The back-test asks without a history (billing/services/backtest.py); the invoice run
    hands over the one it read for every customer."""
    cheap, dear = plan_factory(), plan_factory(price_per_unit_month=Decimal("0.03"))
    fs = live_filespace(ready="2026-05-01T00:00", plan=cheap)
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", 300 * GB)
    services.filespace_plan_change(filespace=fs, plan=dear, at=at("2026-06-16T00:00"))
    window = {"filespaces": [fs], "month_start": JUNE, "month_end": JULY}

    inputs = pricing.invoice_inputs(**window)
    lines = pricing.rate_filespaces(**window, inputs=inputs)["USD"]

    assert inputs.history == pricing.plan_history([fs.pk])
    assert [(line.plan_id, line.amount) for line in lines] == [
        (cheap.pk, Decimal("3.00")),
        (dear.pk, Decimal("4.50")),
    ]


@pytest.mark.parametrize("forecast", [False, True], ids=["to-date", "forecast"])
def test_a_summary_holding_samples_after_the_moment_asked_is_not_rated_from(
    live_filespace, forecast
):
    """Figures at 10 June 12:00 when samples up to the 20th are stored (a page rated for a
    past moment): the month's summary holds the later ones, so the raw samples are read, and
    the figures are those of the raw rating."""
    fs = live_filespace(ready="2026-05-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-05T00:00", 300 * GB)
    write_samples(fs, "2026-06-05T00:00", "2026-06-20T00:00", 600 * GB)
    window = {"filespaces": [fs], "month_start": JUNE, "month_end": JULY}
    as_of = at("2026-06-10T12:00")

    assert_page_inputs_rate_as_the_raw_samples(window, as_of=as_of, forecast=forecast)


def test_a_forecast_for_a_moment_before_the_filespace_was_ready_reads_the_raw_samples(
    live_filespace,
):
    """Asked for 10 June 12:00, a filespace ready on the 15th has no cost to date, only a
    forecast window, whose summary holds samples after that moment: read raw, as above."""
    fs = live_filespace(ready="2026-06-15T00:00")
    write_samples(fs, "2026-06-15T00:00", "2026-06-20T00:00", 600 * GB)
    window = {"filespaces": [fs], "month_start": JUNE, "month_end": JULY}
    as_of = at("2026-06-10T12:00")

    assert_page_inputs_rate_as_the_raw_samples(window, as_of=as_of, forecast=True)


def test_the_invoice_rates_a_matching_summary_and_a_filespace_without_samples(
    live_filespace, plan_factory
):
    """A filespace with no sample this month comes first (by name) and is rated as one; the
    others' summaries match their samples and are rated from them, the average of daily peaks
    from its per-day figures too (on PostgreSQL read only for such plans), as the raw rating
    would."""
    daily = plan_factory(quantity_rule="average_daily_peak")
    empty = live_filespace(ready="2026-05-01T00:00", name="aaa-empty")
    peaks = live_filespace(ready="2026-05-01T00:00", name="peaks", plan=daily)
    steady = live_filespace(ready="2026-05-01T00:00", name="steady")
    write_samples(peaks, "2026-06-01T00:00", "2026-06-11T00:00", 300 * GB)
    write_samples(peaks, "2026-06-11T00:00", "2026-07-01T00:00", 600 * GB, step=7200)
    write_samples(steady, "2026-06-01T00:00", "2026-07-01T00:00", 200 * GB)
    window = {"filespaces": [empty, peaks, steady], "month_start": JUNE, "month_end": JULY}

    inputs = pricing.invoice_inputs(**window)

    assert inputs.samples[empty.pk] == {}
    assert isinstance(inputs.samples[peaks.pk], SeriesSummary)
    assert isinstance(inputs.samples[steady.pk], SeriesSummary)
    lines = pricing.rate_filespaces(**window, inputs=inputs)
    assert lines == pricing.rate_filespaces(**window, inputs=pricing.rating_inputs(**window))
    assert [line.amount for line in lines["USD"]] == [Decimal(0), Decimal("10.00"), Decimal("4.00")]


def test_samples_from_before_the_filespace_was_ready_keep_the_invoice_off_the_summary(
    live_filespace,
):
    """The month's summary starts before the billable window: the raw samples of the window
    are rated, as the summary cannot be cut."""
    fs = live_filespace(ready="2026-06-16T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", 300 * GB)
    window = {"filespaces": [fs], "month_start": JUNE, "month_end": JULY}

    inputs = pricing.invoice_inputs(**window)

    # SQLite rates the raw samples in Python; PostgreSQL integrates the window in the database
    # (`figures`) and loads no series for it. Neither may rate from the month's summary.
    assert not isinstance(inputs.samples.get(fs.pk), SeriesSummary)
    assert fs.pk in inputs.samples or any(w.filespace_id == fs.pk for w in inputs.figures)
    [line] = pricing.rate_filespaces(**window, inputs=inputs)["USD"]
    assert (line.quantity, line.amount) == (Decimal(150), Decimal("3.00"))
