"""PostgreSQL's integral of a window (billing.services.integrals) equals rating's slot by slot."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from billing import rating
from billing.models import UsageSample
from billing.services import integrals
from tests.billing.test_docs_examples import doc_examples, samples_of, terms_of, utc_at

pytestmark = pytest.mark.django_db

JUNE = rating.month_bounds(2026, 6)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the integral runs in PostgreSQL only; elsewhere the run rates in Python")


def _store(filespace, series: dict[int, int]) -> None:
    UsageSample.objects.bulk_create(
        UsageSample(
            filespace=filespace,
            customer_id=filespace.customer_id,
            slot=datetime.fromtimestamp(epoch, tz=UTC),
            sampled_at=datetime.fromtimestamp(epoch, tz=UTC),
            used_storage=value,
            filespace_size=value,
            get_request_count=0,
            get_data_size=0,
            put_request_count=0,
            put_data_size=0,
            list_request_count=0,
            delete_request_count=0,
        )
        for epoch, value in series.items()
    )


def _random_series(rng: random.Random, month_start: datetime, month_end: datetime) -> dict:
    slots = list(range(int(month_start.timestamp()), int(month_end.timestamp()), 3600))
    shape = rng.choice(["empty", "one", "sparse", "dense", "runs"])
    if shape == "empty":
        return {}
    if shape == "one":
        chosen = [rng.choice(slots)]
    elif shape == "sparse":
        chosen = rng.sample(slots, rng.randrange(2, 30))
    elif shape == "dense":
        chosen = [slot for slot in slots if rng.random() > 0.05]
    else:
        chosen = []
        cursor = rng.randrange(len(slots) // 4)
        while cursor < len(slots):
            length = rng.randrange(1, 120)
            chosen += slots[cursor : cursor + length]
            cursor += length + rng.randrange(1, 80)
    # Petabytes over a month-long gap overflow 64-bit integers: the sum must not.
    scale = rng.choice([10**9, 10**12, 10**15])
    return {slot: rng.randrange(0, 5 * scale) for slot in chosen}


def _random_window(rng: random.Random, month_start: datetime, month_end: datetime):
    seconds = int((month_end - month_start).total_seconds())
    start = rng.choice([0, rng.randrange(seconds - 1), rng.randrange(seconds // 3600) * 3600])
    end = rng.choice([seconds, rng.randrange(start + 1, seconds + 1)])
    # Edges are whole seconds (rating takes them so); half a second must not matter.
    fraction = timedelta(microseconds=rng.choice([0, 500000]))
    return month_start + timedelta(seconds=start) + fraction, month_start + timedelta(seconds=end)


def test_the_database_integral_equals_rating_slot_by_slot(live_filespace):
    rng = random.Random(17)
    month_start, month_end = JUNE
    cases = []
    for _ in range(40):
        filespace = live_filespace()
        series = _random_series(rng, month_start, month_end)
        _store(filespace, series)
        for _ in range(rng.randrange(1, 4)):
            start, end = _random_window(rng, month_start, month_end)
            cases.append((filespace.pk, series, start, end))
    windows = [
        integrals.Window(fs, int(start.timestamp() // 1), int(end.timestamp() // 1))
        for fs, _, start, end in cases
    ]

    found = integrals.window_integrals(
        windows=windows, month_start=month_start, month_end=month_end, slot_seconds=3600
    )

    for window, (_, series, _, _) in zip(windows, cases, strict=True):
        for rule in integrals.SQL_RULES:
            expected = rating._figures_from_samples(
                series, window.start, window.end, 3600, None, rule
            )
            got = found[window]
            assert (got.byte_seconds, got.slot_count, got.active_seconds, got.gap_slots) == (
                expected.byte_seconds,
                expected.slot_count,
                expected.active_seconds,
                expected.gap_slots,
            ), (window, rule)
            if rule == "peak":
                assert got.level == expected.level, window


SQL_EXAMPLES = [
    example
    for example in doc_examples()
    if example["terms"].get("rule", "time_weighted") in integrals.SQL_RULES
]


def test_most_worked_examples_go_through_the_database():
    assert len(SQL_EXAMPLES) >= 12


@pytest.mark.parametrize("example", SQL_EXAMPLES, ids=lambda e: f"{e['month']}-{e['expect']}")
def test_each_worked_example_rates_as_written_through_the_database(example, live_filespace):
    year, month = (int(part) for part in example["month"].split("-"))
    month_start, month_end = rating.month_bounds(year, month)
    window = example.get("window")
    start, end = (utc_at(window[0]), utc_at(window[1])) if window else (month_start, month_end)
    terms = terms_of(example["terms"])
    filespace = live_filespace()
    _store(filespace, rating.series_of(samples_of(example["usage"])))
    key = integrals.Window(filespace.pk, int(start.timestamp()), int(end.timestamp()))
    figures = integrals.window_integrals(
        windows=[key], month_start=month_start, month_end=month_end, slot_seconds=3600
    )[key]

    line = rating.rate_usage(
        terms=terms,
        samples={},
        figures=figures,
        window_start=start,
        window_end=end,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=3600,
    )

    expect = example["expect"]
    assert str(line.quantity) == expect["quantity"]
    assert str(line.amount) == expect["amount"]
    if "gap_slots" in expect:
        assert line.gap_slots == expect["gap_slots"]
    reference = rating.rate_usage(
        terms=terms,
        samples=samples_of(example["usage"]),
        window_start=start,
        window_end=end,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=3600,
    )
    assert line == reference
