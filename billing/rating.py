"""Rating: usage samples in, quantities and money out.

Pure functions over plain data (``Decimal``, ``datetime``, small dataclasses): no database, no
settings, no clock. The same inputs always give the same figures, so an invoice line can be
recomputed and checked at any time. The rules are written down, with worked examples that the
test suite runs, in ``docs/billing.md``.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.summary import SeriesSummary, WindowFigures, window_figures

QUANTITY_PLACES = Decimal("0.000001")
UNIT_BYTES = {"GB": 10**9, "GiB": 2**30}
# ISO 4217 minor units; every currency not listed has two decimal places.
CURRENCY_MINOR_UNITS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip
ZERO = Decimal(0)
TIMES = "\u00d7"  # the multiplication sign printed in formulas


class QuantityRule:
    TIME_WEIGHTED = "time_weighted"
    PEAK = "peak"
    AVERAGE_DAILY_PEAK = "average_daily_peak"
    LAST = "last"
    ALL = (TIME_WEIGHTED, PEAK, AVERAGE_DAILY_PEAK, LAST)


class RatingError(ValueError):
    """The inputs cannot be rated (an unknown unit or rule, a window outside its month)."""


@dataclass(frozen=True)
class Tier:
    """A graduated price band: units up to ``up_to`` per month (``None``: no limit) at ``price``."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class PlanTerms:
    """The parts of a plan that decide the price of a line."""

    currency: str
    unit: str
    price_per_unit_month: Decimal
    quantity_rule: str = QuantityRule.TIME_WEIGHTED
    included_units: Decimal = ZERO
    minimum_monthly_charge: Decimal = ZERO
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class Sample:
    """``used_bytes`` measured for the slot that starts at ``slot``."""

    slot: datetime
    used_bytes: int


@dataclass(frozen=True)
class SlotValue:
    start: datetime
    seconds: int
    used_bytes: int
    filled: bool


@dataclass(frozen=True)
class LineRating:
    """One rated line: every figure the invoice prints, and how it was reached."""

    window_start: datetime
    window_end: datetime
    unit: str
    quantity_rule: str
    currency: str
    active_seconds: int
    month_seconds: int
    quantity: Decimal  # unit-months, 6 places
    included: Decimal  # unit-months, 6 places
    billable: Decimal  # unit-months, 6 places
    amount: Decimal  # rounded once, to the currency's minor unit
    minimum_prorated: Decimal  # the plan's minimum for the active days, rounded the same way
    slot_count: int
    gap_slots: int
    gap_note: str
    formula: str
    projected_slots: int = 0
    tier_breakdown: tuple[tuple[Decimal, Decimal], ...] = field(default=())


def minor_unit(currency: str) -> Decimal:
    places = CURRENCY_MINOR_UNITS.get(currency.upper(), 2)
    return Decimal(1).scaleb(-places)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit: the only place money is rounded."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str) -> str:
    """``20.000`` with ``USD`` → ``USD 20.00``: the one way the portal writes an amount of money
    (pages, emails, staff flags), the ISO code first and thousands grouped."""
    return f"{currency} {round_money(Decimal(amount), currency):,}"


def quantize_quantity(quantity: Decimal) -> Decimal:
    return quantity.quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The UTC month as a half-open interval [first midnight, next first midnight)."""
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    moment = moment.astimezone(UTC)
    return month_bounds(moment.year, moment.month)


def slot_start(moment: datetime, slot_seconds: int) -> datetime:
    """The start of the sampling slot holding ``moment``; slots are aligned to the Unix epoch."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % slot_seconds, tz=UTC)


def billable_window(
    *,
    period_start: datetime,
    period_end: datetime,
    ready_at: datetime | None,
    deleted_at: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The part of the period in which the filespace existed for the customer, or None."""
    if ready_at is None:
        return None
    start = max(period_start, ready_at)
    end = min(period_end, deleted_at) if deleted_at is not None else period_end
    if end <= start:
        return None
    return start, end


def split_by_plan(
    *,
    window_start: datetime,
    window_end: datetime,
    assignments: Sequence[tuple[datetime, object]],
) -> list[tuple[datetime, datetime, object]]:
    """Cut the window where the plan changed.

    ``assignments`` are (effective from, plan) pairs; the latest one at or before a moment is the
    plan in force. The first assignment also covers anything before it, so a filespace whose plan
    history starts late is never left without a plan.
    """
    if not assignments:
        raise RatingError("A filespace needs at least one plan to be rated.")
    ordered = sorted(assignments, key=lambda pair: pair[0])
    pieces: list[tuple[datetime, datetime, object]] = []
    for index, (starts, plan) in enumerate(ordered):
        ends = ordered[index + 1][0] if index + 1 < len(ordered) else None
        piece_start = window_start if index == 0 else max(window_start, starts)
        piece_end = window_end if ends is None else min(window_end, ends)
        if piece_end > piece_start:
            pieces.append((piece_start, piece_end, plan))
    return pieces


SampleSeries = dict[int, int]  # slot start in epoch seconds -> used bytes


def series_of(samples: Iterable[Sample] | SampleSeries) -> SampleSeries:
    """Samples as a mapping of slot start (epoch seconds) to bytes; a mapping passes through."""
    if isinstance(samples, dict):
        return samples
    return {int(sample.slot.timestamp()): sample.used_bytes for sample in samples}


def _epoch(moment: datetime) -> int:
    """Whole seconds since the epoch: every window edge is taken to the second."""
    return int(moment.timestamp() // 1)


def _slot_rows(
    series: SampleSeries, start: int, end: int, slot_seconds: int
) -> list[tuple[int, int, int, bool]]:
    """(slot start, seconds in window, bytes, filled) for every slot overlapping [start, end).

    Integers throughout: this loop runs once per slot per filespace per month.
    """
    known = sorted(series)
    count = len(known)
    rows = []
    cursor = start - start % slot_seconds
    before = bisect_right(known, cursor) - 1
    get = series.get
    while cursor < end:
        seconds = slot_seconds
        if cursor < start or cursor + slot_seconds > end:
            # Only the first and last slot can be cut by the window.
            seconds = min(cursor + slot_seconds, end) - max(cursor, start)
        value = get(cursor)
        if value is not None:
            rows.append((cursor, seconds, value, False))
        else:
            while before + 1 < count and known[before + 1] <= cursor:
                before += 1
            if before >= 0 and before + 1 < count:
                fill = min(series[known[before]], series[known[before + 1]])
            elif before >= 0:
                fill = series[known[before]]
            elif count:
                fill = series[known[0]]
            else:
                fill = 0
            rows.append((cursor, seconds, fill, True))
        cursor += slot_seconds
    return rows


def _complete_byte_seconds(
    series: SampleSeries, start: int, end: int, slot_seconds: int
) -> tuple[int, int, int] | None:
    """Sum of bytes times seconds, slot count and seconds when every slot has a sample, else None.

    The common case (no gap) summed in C rather than slot by slot; it gives exactly what
    ``_slot_rows`` gives (a property test checks), only the edge slots are cut by the window.
    """
    if end <= start:
        return None
    slots = range(start - start % slot_seconds, end, slot_seconds)
    if not series.keys() >= set(slots):
        return None
    first, last = slots[0], slots[-1]
    byte_seconds = sum(map(series.__getitem__, slots)) * slot_seconds
    byte_seconds -= series[first] * (start - first)
    byte_seconds -= series[last] * (last + slot_seconds - end)
    return byte_seconds, len(slots), end - start


def slot_values(
    *,
    samples: Iterable[Sample] | SampleSeries,
    window_start: datetime,
    window_end: datetime,
    slot_seconds: int,
) -> list[SlotValue]:
    """Every slot overlapping the window, with its weight in seconds and its value.

    A slot without a sample is a gap. It is filled in the customer's favour: with the lower of
    the nearest measured values before and after it (either one alone if only one exists; zero
    if the filespace has no sample at all).
    """
    rows = _slot_rows(series_of(samples), _epoch(window_start), _epoch(window_end), slot_seconds)
    return [
        SlotValue(datetime.fromtimestamp(start, tz=UTC), seconds, value, filled)
        for start, seconds, value, filled in rows
    ]


def _level_bytes(rows: list[tuple[int, int, int, bool]], rule: str) -> Decimal:
    if not rows:
        return ZERO
    if rule == QuantityRule.PEAK:
        return Decimal(max(row[2] for row in rows))
    if rule == QuantityRule.LAST:
        return Decimal(rows[-1][2])
    if rule == QuantityRule.AVERAGE_DAILY_PEAK:
        peaks: dict[int, int] = {}
        for start, _seconds, value, _filled in rows:
            day = start // 86400
            peaks[day] = max(peaks.get(day, 0), value)
        return Decimal(sum(peaks.values())) / Decimal(len(peaks))
    raise RatingError(f"Unknown quantity rule {rule!r}.")


def _tiered_amount(
    billable: Decimal, terms: PlanTerms, fraction: Decimal
) -> tuple[Decimal, tuple[tuple[Decimal, Decimal], ...]]:
    """Graduated tiers; each band's monthly limit is scaled by the active fraction of the month."""
    remaining = billable
    floor = ZERO
    amount = ZERO
    used: list[tuple[Decimal, Decimal]] = []
    for tier in terms.tiers:
        if remaining <= 0:
            break
        if tier.up_to is None:
            portion = remaining
        else:
            ceiling = tier.up_to * fraction
            portion = min(remaining, max(ZERO, ceiling - floor))
            floor = max(floor, ceiling)
        if portion > 0:
            amount += portion * tier.price
            used.append((quantize_quantity(portion), tier.price))
            remaining -= portion
    if remaining > 0:
        # Units beyond the last bounded tier pay the plan's base price.
        amount += remaining * terms.price_per_unit_month
        used.append((quantize_quantity(remaining), terms.price_per_unit_month))
    return amount, tuple(used)


def _figures_from_samples(
    series: SampleSeries, start: int, end: int, slot_seconds: int, horizon: int | None, rule: str
) -> WindowFigures:
    """The window's figures slot by slot from the raw samples (the reference computation)."""
    if rule == QuantityRule.TIME_WEIGHTED:
        complete = _complete_byte_seconds(series, start, end, slot_seconds)
        if complete is not None:
            byte_seconds, slot_count, active_seconds = complete
            return WindowFigures(byte_seconds, slot_count, active_seconds, 0, 0, ZERO)
    rows = _slot_rows(series, start, end, slot_seconds)
    filled = [row[0] for row in rows if row[3]]
    gap_slots = sum(1 for slot in filled if horizon is None or slot < horizon)
    level = ZERO if rule == QuantityRule.TIME_WEIGHTED else _level_bytes(rows, rule)
    return WindowFigures(
        byte_seconds=sum(row[1] * row[2] for row in rows),
        slot_count=len(rows),
        active_seconds=sum(row[1] for row in rows),
        gap_slots=gap_slots,
        projected_slots=len(filled) - gap_slots,
        level=level,
    )


def _formula(
    terms: PlanTerms,
    figures: WindowFigures,
    month_seconds: int,
    quantity: Decimal,
    included: Decimal,
    billable: Decimal,
    breakdown: tuple[tuple[Decimal, Decimal], ...],
    raw_amount: Decimal,
    amount: Decimal,
) -> str:
    """How a line's amount was reached, as the invoice prints it (docs/billing.md)."""
    unit_bytes = UNIT_BYTES[terms.unit]
    if terms.quantity_rule == QuantityRule.TIME_WEIGHTED:
        how = (
            f"Σ(bytes {TIMES} seconds) {figures.byte_seconds} / ({unit_bytes} B/{terms.unit} "
            f"{TIMES} {month_seconds} s in month)"
        )
    else:
        how = (
            f"{terms.quantity_rule.replace('_', ' ')} {figures.level.normalize():f} B / "
            f"{unit_bytes} B/{terms.unit} {TIMES} {figures.active_seconds} s active / "
            f"{month_seconds} s in month"
        )
    if terms.tiers:
        price_text = "tiers " + " + ".join(f"{q} {TIMES} {p}" for q, p in breakdown)
    else:
        price_text = f"{billable} {TIMES} {terms.price_per_unit_month} {terms.currency}"
    unit_month = f"{terms.unit}-month"
    return (
        f"{how} = {quantity} {unit_month}; included {included} {unit_month}; "
        f"billable {billable} {unit_month}; {price_text} = {raw_amount.normalize():f} "
        f"→ {amount} {terms.currency} (half-up)"
    )


def rate_usage(
    *,
    terms: PlanTerms,
    samples: Iterable[Sample] | SampleSeries | SeriesSummary,
    window_start: datetime,
    window_end: datetime,
    month_start: datetime,
    month_end: datetime,
    slot_seconds: int,
    as_of: datetime | None = None,
    figures: WindowFigures | None = None,
    explain: bool = True,
) -> LineRating:
    """Rate one filespace over one window of one month under one plan.

    Quantities are in unit-months (GB-month or GiB-month): the time-weighted rule integrates
    bytes over seconds; the level rules (peak, average of daily peaks, last) take a level and
    weight it by the share of the month the filespace was billable. Slots starting at or after
    ``as_of`` are projected (filled from the last value) rather than reported as gaps: that is
    how a forecast to the end of the month is made. ``samples`` may be the month's
    ``SeriesSummary`` when the window holds every sampled slot (billing.summary.covers).
    ``figures`` computed elsewhere for exactly this window (the database's integral,
    billing.services.integrals) replace the samples; only the money is computed here then.
    """
    if terms.unit not in UNIT_BYTES:
        raise RatingError(f"Unknown billing unit {terms.unit!r}.")
    if terms.quantity_rule not in QuantityRule.ALL:
        raise RatingError(f"Unknown quantity rule {terms.quantity_rule!r}.")
    if not (month_start <= window_start <= window_end <= month_end):
        raise RatingError("The window must lie inside its month.")
    unit_bytes = UNIT_BYTES[terms.unit]
    month_seconds = int((month_end - month_start).total_seconds())
    start, end = _epoch(window_start), _epoch(window_end)
    horizon = _epoch(as_of) if as_of is not None else None
    if figures is not None:
        if figures.active_seconds != end - start:
            raise RatingError("The figures were computed for another window.")
    elif isinstance(samples, SeriesSummary):
        if samples.slot_seconds != slot_seconds:
            raise RatingError("The summary was made for another sampling interval.")
        figures = window_figures(samples, start, end, horizon, terms.quantity_rule)
    else:
        figures = _figures_from_samples(
            series_of(samples), start, end, slot_seconds, horizon, terms.quantity_rule
        )
    byte_seconds, slot_count = figures.byte_seconds, figures.slot_count
    active_seconds, gap_slots = figures.active_seconds, figures.gap_slots
    projected_slots = figures.projected_slots
    fraction = Decimal(active_seconds) / Decimal(month_seconds)
    if terms.quantity_rule == QuantityRule.TIME_WEIGHTED:
        raw_quantity = Decimal(byte_seconds) / (Decimal(unit_bytes) * Decimal(month_seconds))
    else:
        raw_quantity = figures.level / Decimal(unit_bytes) * fraction
    quantity = quantize_quantity(raw_quantity)
    included = quantize_quantity(terms.included_units * fraction)
    billable = max(ZERO, quantity - included)
    if terms.tiers:
        raw_amount, breakdown = _tiered_amount(billable, terms, fraction)
    else:
        raw_amount = billable * terms.price_per_unit_month
        breakdown = ((billable, terms.price_per_unit_month),)
    amount = round_money(raw_amount, terms.currency)
    minimum = round_money(terms.minimum_monthly_charge * fraction, terms.currency)
    formula = ""
    if explain:
        formula = _formula(
            terms,
            figures,
            month_seconds,
            quantity,
            included,
            billable,
            breakdown,
            raw_amount,
            amount,
        )
    gap_note = ""
    if gap_slots:
        gap_note = (
            f"{gap_slots} of {slot_count} sampling slots had no measurement; each was filled "
            "with the lower neighbouring measurement, in your favour."
        )
    return LineRating(
        window_start=window_start,
        window_end=window_end,
        unit=terms.unit,
        quantity_rule=terms.quantity_rule,
        currency=terms.currency,
        active_seconds=active_seconds,
        month_seconds=month_seconds,
        quantity=quantity,
        included=included,
        billable=billable,
        amount=amount,
        minimum_prorated=minimum,
        slot_count=slot_count,
        gap_slots=gap_slots,
        gap_note=gap_note,
        formula=formula,
        projected_slots=projected_slots,
        tier_breakdown=breakdown,
    )


def minimum_true_up(lines: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """The top-up that brings charged amounts up to the prorated minimums.

    ``lines`` are (prorated minimum, amount) pairs for one plan's lines on one invoice; both are
    already rounded, so the difference needs no further rounding.
    """
    minimum = ZERO
    charged = ZERO
    for line_minimum, amount in lines:
        minimum += line_minimum
        charged += amount
    return max(ZERO, minimum - charged)


def monthly_estimate(terms: PlanTerms, stored_bytes: int) -> Decimal:
    """What a whole month at a steady ``stored_bytes`` costs under ``terms``, rounded once.

    Used to show the price difference of a plan change before it is confirmed; the plan's
    minimum monthly charge is left out (it applies per plan across all a customer's
    filespaces, not to one filespace).
    """
    if terms.unit not in UNIT_BYTES:
        raise RatingError(f"unknown billing unit {terms.unit!r}")
    units = Decimal(stored_bytes) / Decimal(UNIT_BYTES[terms.unit])
    billable = max(ZERO, units - terms.included_units)
    if terms.tiers:
        amount, _ = _tiered_amount(billable, terms, Decimal(1))
    else:
        amount = billable * terms.price_per_unit_month
    return round_money(amount, terms.currency)


def remaining_share(moment: datetime) -> Decimal:
    """The share of ``moment``'s month still to come, as a Decimal between 0 and 1."""
    start, end = month_of(moment)
    return Decimal((end - moment).total_seconds()) / Decimal((end - start).total_seconds())
