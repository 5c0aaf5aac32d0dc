"""Pages read month-to-date summaries; their figures equal the invoice's, rated from raw samples."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from billing import rating, selectors, services
from billing.models import Invoice, MonthUsage, UsageSample
from billing.services.pricing import (
    billable_filespaces,
    rate_filespaces,
    rating_inputs,
    summary_inputs,
)
from billing.summary import SeriesSummary
from provisioning import lucidlink
from tests.billing.conftest import at, write_samples

TB = 10**12
FEB = rating.month_bounds(2026, 2)
TIERS = [{"up_to": "500", "price": "0.03"}, {"up_to": None, "price": "0.01"}]


def collect_hours(fake, start: str, hours: int, *, fail_at: set[int] = frozenset()):
    """Hourly collections through the service, as beat runs them; some fail (gaps)."""
    for hour in range(hours):
        moment = at(start) + timedelta(hours=hour, minutes=5)
        fake.list_error = lucidlink.Unavailable("down", status=503) if hour in fail_at else None
        with time_machine.travel(moment, tick=False), contextlib.suppress(lucidlink.Unavailable):
            services.usage_collect(client=fake, now=moment)


@pytest.fixture
def february(customer_factory, plan_factory, live_filespace, fake_lucidlink):
    """One customer, five filespaces, every rule the pages must agree with the invoice on."""
    customer = customer_factory(name="Acme")
    plain = plan_factory(price_per_unit_month=Decimal("0.02"))
    tiered = plan_factory(
        price_tiers=TIERS, included_units=Decimal(100), minimum_monthly_charge=Decimal("90.00")
    )
    daily = plan_factory(
        price_tiers=TIERS,
        minimum_monthly_charge=Decimal("50.00"),
        quantity_rule="average_daily_peak",
    )
    peak = plan_factory(quantity_rule="peak", minimum_monthly_charge=Decimal("9.99"))
    gappy = live_filespace(ready="2026-01-01T00:00", customer=customer, plan=plain)
    changed = live_filespace(ready="2026-01-01T00:00", customer=customer, plan=plain)
    deleted = live_filespace(
        ready="2026-02-03T10:20", deleted="2026-02-20T07:45", customer=customer, plan=peak
    )
    late = live_filespace(ready="2026-02-10T13:37", customer=customer, plan=tiered)
    steady = live_filespace(ready="2026-01-01T00:00", customer=customer, plan=daily)
    # Gaps: a missing day and a missing morning.
    write_samples(gappy, "2026-02-01T00:00", "2026-02-09T00:00", 3 * TB)
    write_samples(gappy, "2026-02-10T00:00", "2026-02-14T06:00", TB)
    write_samples(gappy, "2026-02-14T11:00", "2026-02-27T00:00", 2 * TB)
    write_samples(changed, "2026-02-01T00:00", "2026-02-27T00:00", 4 * TB)
    services.filespace_plan_change(filespace=changed, plan=daily, at=at("2026-02-15T12:30"))
    write_samples(deleted, "2026-02-03T11:00", "2026-02-20T07:00", 7 * TB)
    write_samples(late, "2026-02-10T14:00", "2026-02-20T00:00", TB // 2)
    write_samples(late, "2026-02-20T00:00", "2026-02-27T00:00", 5 * TB)
    write_samples(steady, "2026-02-01T00:00", "2026-02-27T00:00", 600 * 10**9)
    for filespace, used in ((gappy, 2 * TB), (changed, 4 * TB), (late, 6 * TB), (steady, TB)):
        fake_lucidlink.set_usage(filespace.remote_id, used)
    # The last days arrive one collection at a time, two of them failing.
    collect_hours(fake_lucidlink, "2026-02-27T00:00", 48, fail_at={5, 30})
    return customer


def rated_both_ways(customer, month, as_of, forecast=False):
    filespaces = list(
        billable_filespaces(month_start=month[0], month_end=month[1]).filter(customer=customer)
    )
    window = {"filespaces": filespaces, "month_start": month[0], "month_end": month[1]}
    fast_inputs = summary_inputs(**window, as_of=as_of)
    fast = rate_filespaces(**window, as_of=as_of, forecast=forecast, inputs=fast_inputs)
    slow = rate_filespaces(**window, as_of=as_of, forecast=forecast, inputs=rating_inputs(**window))
    summarized = sum(isinstance(s, SeriesSummary) for s in fast_inputs.samples.values())
    return fast, slow, summarized


@pytest.mark.parametrize(
    "now",
    ["2026-02-28T23:59:59.999999", "2026-02-28T23:05:00", "2026-02-28T23:59:00"],
)
def test_cost_to_date_and_forecast_from_summaries_equal_rating_the_raw_samples(february, now):
    as_of = at(now)
    with time_machine.travel(as_of, tick=False):
        fast, slow, summarized = rated_both_ways(february, FEB, as_of)
        fast_forecast, slow_forecast, _ = rated_both_ways(february, FEB, as_of, forecast=True)

    assert fast == slow and fast_forecast == slow_forecast
    # Gappy, deleted, late and steady are read from their summary; the plan change is raw.
    assert summarized == 4
    lines = [line for currency in fast.values() for line in currency]
    assert any(line.gap_slots for line in lines)
    assert any(line.kind == "minimum_true_up" for line in lines)


def test_the_usage_page_shows_what_the_invoice_charges_once_the_month_is_over(february):
    with time_machine.travel(at("2026-03-01T00:00:00"), tick=False):
        services.invoice_run(year=2026, month=2)
        page = selectors.usage_page_for(
            customer=february, month_start=FEB[0], month_end=FEB[1], now=at("2026-03-01T00:00")
        )
        at_month_end = selectors.usage_page_for(
            customer=february,
            month_start=FEB[0],
            month_end=FEB[1],
            now=at("2026-02-28T23:59:59.999999"),
        )

    invoice = Invoice.objects.get(customer=february)
    lines = {line.filespace_id: line for line in invoice.lines.filter(kind="usage")}
    assert page.totals["USD"]["cost"] == invoice.total > 0
    assert at_month_end.totals["USD"]["forecast"] == invoice.total
    for row in page.rows:
        billed = [line for line in invoice.lines.filter(filespace=row.filespace)]
        assert row.cost_to_date == sum(line.amount for line in billed)
        assert row.quantity_to_date == sum(line.quantity for line in billed)
        assert row.gap_slots == sum(line.gap_slots for line in billed)
    assert lines  # the comparison above saw the invoice's usage lines


def test_the_page_equals_the_invoice_when_the_run_integrates_raw_samples(february, monkeypatch):
    """Without summaries the run rates raw samples: on PostgreSQL the database integrates the
    time-weighted and peak windows (gaps, deletion, a late start, tiers, minimums)."""
    from django.db import connection

    from billing.services import integrals

    integrated = []
    real = integrals.window_integrals

    def spy(**kwargs):
        integrated.extend(kwargs["windows"])
        return real(**kwargs)

    monkeypatch.setattr(integrals, "window_integrals", spy)
    MonthUsage.objects.all().delete()
    with time_machine.travel(at("2026-03-01T00:00:00"), tick=False):
        services.invoice_run(year=2026, month=2)
        page = selectors.usage_page_for(
            customer=february, month_start=FEB[0], month_end=FEB[1], now=at("2026-03-01T00:00")
        )

    invoice = Invoice.objects.get(customer=february)
    assert services.invoice_verify(invoice=invoice) == []
    assert page.totals["USD"]["cost"] == invoice.total > 0
    for row in page.rows:
        billed = list(invoice.lines.filter(filespace=row.filespace))
        assert row.cost_to_date == sum(line.amount for line in billed)
        assert row.quantity_to_date == sum(line.quantity for line in billed)
        assert row.gap_slots == sum(line.gap_slots for line in billed)
    # gappy (gaps), deleted (peak, deleted mid-month) and late (tiers, minimum) are integrated
    # by PostgreSQL; the average-daily-peak filespaces are rated in Python everywhere.
    expected = 3 if connection.vendor == "postgresql" else 0
    assert len({window.filespace_id for window in integrated}) == expected


def test_collection_keeps_the_summary_equal_to_one_rebuilt_from_raw_samples(february):
    kept = {row.filespace_id: row for row in MonthUsage.objects.all()}
    for filespace_id, row in kept.items():
        services.usage_summaries_rebuild(filespace_ids=[filespace_id], month_start=FEB[0])
        rebuilt = MonthUsage.objects.get(pk=row.pk)
        assert (rebuilt.slot_sum, rebuilt.sample_count, rebuilt.days) == (
            row.slot_sum,
            row.sample_count,
            row.days,
        )
        assert rebuilt.sample_count == UsageSample.objects.filter(filespace_id=filespace_id).count()


def test_a_late_sample_out_of_order_rebuilds_the_summary(february):
    gappy = MonthUsage.objects.order_by("filespace_id").first()
    sample = UsageSample.objects.filter(filespace_id=gappy.filespace_id).first()
    hole = at("2026-02-09T05:00")
    UsageSample.objects.create(
        **{
            name: getattr(sample, name)
            for name in ("filespace_id", "customer_id", "filespace_size", "users_count")
        },
        slot=hole,
        sampled_at=hole,
        used_storage=9 * TB,
        get_request_count=0, get_data_size=0, put_request_count=0, put_data_size=0,
        list_request_count=0, delete_request_count=0,
    )  # fmt: skip

    services.usage_summaries_append(slot=hole, filespace_ids=[gappy.filespace_id])

    gappy.refresh_from_db()
    assert gappy.peak == 9 * TB
    with time_machine.travel(at("2026-02-28T23:00"), tick=False):
        fast, slow, _ = rated_both_ways(february, FEB, at("2026-02-28T23:00"))
    assert fast == slow


def test_the_invoice_run_rated_from_summaries_equals_a_recompute_from_raw_samples(february):
    with time_machine.travel(at("2026-03-01T03:00"), tick=False):
        services.invoice_run(year=2026, month=2)
    invoice = Invoice.objects.get(customer=february)

    # invoice_verify rates every filespace from its raw samples and lists any difference.
    assert services.invoice_verify(invoice=invoice) == []
    assert invoice.lines.filter(gap_slots__gt=0).exists()


def test_a_sample_written_behind_the_summarys_back_sends_the_run_to_the_raw_samples(february):
    steady = MonthUsage.objects.order_by("-filespace_id").first()
    sample = UsageSample.objects.filter(filespace_id=steady.filespace_id).last()
    late = at("2026-02-28T23:00")
    UsageSample.objects.filter(filespace_id=steady.filespace_id, slot=late).delete()
    UsageSample.objects.create(
        **{
            name: getattr(sample, name)
            for name in ("filespace_id", "customer_id", "filespace_size", "users_count")
        },
        slot=late,
        sampled_at=late,
        used_storage=50 * TB,
        get_request_count=0, get_data_size=0, put_request_count=0, put_data_size=0,
        list_request_count=0, delete_request_count=0,
    )  # fmt: skip

    with time_machine.travel(at("2026-03-01T03:00"), tick=False):
        services.invoice_run(year=2026, month=2)

    invoice = Invoice.objects.get(customer=february)
    assert services.invoice_verify(invoice=invoice) == []


@pytest.mark.parametrize("forecast", [False, True])
def test_rating_for_a_page_gives_the_invoices_figures_without_its_text(
    february, monkeypatch, forecast
):
    """A page rates without descriptions and formulas, each plan's terms read once and each
    filespace's plan windows cut once (while loading); every figure is the invoice's."""
    from billing.services import pricing

    as_of = at("2026-02-28T23:05:00")
    filespaces = list(
        billable_filespaces(month_start=FEB[0], month_end=FEB[1]).filter(customer=february)
    )
    window = {"filespaces": filespaces, "month_start": FEB[0], "month_end": FEB[1]}
    with time_machine.travel(as_of, tick=False):
        inputs = summary_inputs(**window, as_of=as_of)
        described = rate_filespaces(**window, as_of=as_of, forecast=forecast, inputs=inputs)
        terms_read, pieces_cut = [], []
        real_terms, real_pieces = pricing.plan_terms, pricing.plan_pieces
        monkeypatch.setattr(
            pricing, "plan_terms", lambda plan: terms_read.append(plan.pk) or real_terms(plan)
        )
        monkeypatch.setattr(
            pricing, "plan_pieces", lambda *a, **kw: pieces_cut.append(a) or real_pieces(*a, **kw)
        )
        bare = rate_filespaces(
            **window, as_of=as_of, forecast=forecast, inputs=inputs, describe=False
        )

    text = {"description": "", "formula": ""}
    assert bare == {
        currency: [dataclasses.replace(line, **text) for line in lines]
        for currency, lines in described.items()
    }
    described_lines = [line for lines in described.values() for line in lines]
    assert all(line.description and line.formula for line in described_lines)
    assert any(line.kind == "minimum_true_up" for line in described_lines)
    plans = {line.plan_id for line in described_lines}
    assert len(plans) == 4 and sorted(terms_read) == sorted(plans)
    assert pieces_cut == []


def test_summaries_read_without_their_days_rate_the_same_and_daily_peaks_keep_theirs(february):
    """The dashboard reads summaries without per-day figures (no chart); a filespace whose plan
    rates the average of daily peaks still gets them, and every line is the same."""
    as_of = at("2026-02-28T23:05:00")
    filespaces = list(
        billable_filespaces(month_start=FEB[0], month_end=FEB[1]).filter(customer=february)
    )
    window = {"filespaces": filespaces, "month_start": FEB[0], "month_end": FEB[1]}
    with time_machine.travel(as_of, tick=False):
        whole = summary_inputs(**window, as_of=as_of)
        light = summary_inputs(**window, as_of=as_of, days_for=[])
        for forecast in (False, True):
            assert rate_filespaces(
                **window, as_of=as_of, forecast=forecast, inputs=light, describe=False
            ) == rate_filespaces(
                **window, as_of=as_of, forecast=forecast, inputs=whole, describe=False
            )
    daily = {
        fs.pk
        for fs in filespaces
        if fs.plan.quantity_rule == rating.QuantityRule.AVERAGE_DAILY_PEAK
    }
    summarized = {
        pk: month for pk, month in light.samples.items() if isinstance(month, SeriesSummary)
    }
    assert daily & set(summarized)  # a daily-peak filespace read from its summary
    for pk, month in summarized.items():
        assert bool(month.day_peaks) == (pk in daily)
