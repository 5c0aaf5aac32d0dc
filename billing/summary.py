"""Month-to-date summaries of a filespace's samples, and rating figures read from them.

A page that shows a month's cost to date must not read every sample of the month on every view.
A ``SeriesSummary`` holds what rating needs of one filespace's samples in one month, kept up to
date as samples arrive (one append per sample): the first and last measured slot and value, the
sum of every slot value between them (gaps filled the documented way: the lower neighbour), the
number of slots and samples, the peak, each day's peak of the filled slots, and each day's
sample sum, count and maximum for the charts.

``window_figures`` then gives, for a window that holds every sampled slot of the month, exactly
the figures ``rating.rate_usage`` computes slot by slot from the raw samples: byte-seconds, slots,
gap and projected slots and the level of the level rules. A window that cuts into the sampled
range (a plan change, a deletion before the last sample) is not covered; callers rate those
from the raw samples. A property test holds both paths equal.

Pure functions over integers: no database, no settings, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

DAY = 86400


@dataclass(frozen=True)
class SeriesSummary:
    """One filespace's samples in one month, summarized; slots are epoch seconds."""

    slot_seconds: int
    first_slot: int
    first_value: int
    last_slot: int
    last_value: int
    slot_sum: int  # Σ value over every slot from first_slot to last_slot, gaps filled
    slot_count: int  # slots from first_slot to last_slot inclusive
    sample_count: int
    peak: int
    # day number (epoch // 86400) -> peak of the filled slots between first_slot and last_slot
    day_peaks: dict[int, int] = field(default_factory=dict)
    # day number -> (Σ sampled bytes, samples, largest sample): the chart's daily points
    day_samples: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def gap_count(self) -> int:
        return self.slot_count - self.sample_count


@dataclass(frozen=True)
class WindowFigures:
    byte_seconds: int
    slot_count: int
    active_seconds: int
    gap_slots: int
    projected_slots: int
    level: Decimal


class SummaryError(ValueError):
    """A sample cannot be appended (out of order or not on a slot boundary)."""


def summary_start(epoch: int, value: int, slot_seconds: int) -> SeriesSummary:
    if epoch % slot_seconds:
        raise SummaryError(f"Sample at {epoch} is not on a {slot_seconds} s slot boundary.")
    day = epoch // DAY
    return SeriesSummary(
        slot_seconds=slot_seconds,
        first_slot=epoch,
        first_value=value,
        last_slot=epoch,
        last_value=value,
        slot_sum=value,
        slot_count=1,
        sample_count=1,
        peak=value,
        day_peaks={day: value},
        day_samples={day: (value, 1, value)},
    )


def summary_append(summary: SeriesSummary | None, epoch: int, value: int, slot_seconds: int):
    """The summary with one more sample, later than every sample already in it."""
    if summary is None:
        return summary_start(epoch, value, slot_seconds)
    slot = summary.slot_seconds
    if slot != slot_seconds or epoch % slot:
        raise SummaryError(f"Sample at {epoch} is not on a {slot} s slot boundary.")
    if epoch <= summary.last_slot:
        raise SummaryError(f"Sample at {epoch} is not after the last one ({summary.last_slot}).")
    gaps = (epoch - summary.last_slot) // slot - 1
    fill = min(summary.last_value, value)
    day_peaks = dict(summary.day_peaks)
    if gaps:
        # Every slot between the two samples takes the lower of them, in the customer's favour.
        for day in range((summary.last_slot + slot) // DAY, (epoch - slot) // DAY + 1):
            day_peaks[day] = max(day_peaks.get(day, fill), fill)
    day = epoch // DAY
    day_peaks[day] = max(day_peaks.get(day, value), value)
    day_samples = dict(summary.day_samples)
    total, count, largest = day_samples.get(day, (0, 0, value))
    day_samples[day] = (total + value, count + 1, max(largest, value))
    return replace(
        summary,
        last_slot=epoch,
        last_value=value,
        slot_sum=summary.slot_sum + gaps * fill + value,
        slot_count=summary.slot_count + gaps + 1,
        sample_count=summary.sample_count + 1,
        peak=max(summary.peak, value),
        day_peaks=day_peaks,
        day_samples=day_samples,
    )


def summarize(series: dict[int, int], slot_seconds: int) -> SeriesSummary | None:
    """The summary of a whole series (slot start -> bytes); None if empty or off the slot grid."""
    summary = None
    for epoch in sorted(series):
        if epoch % slot_seconds:
            return None
        summary = summary_append(summary, epoch, series[epoch], slot_seconds)
    return summary


def covers(summary: SeriesSummary, start: int, end: int, horizon: int | None) -> bool:
    """Whether the window [start, end) holds every sampled slot, so the summary can rate it."""
    return (
        end > start
        and summary.first_slot + summary.slot_seconds > start
        and summary.last_slot < end
        and (horizon is None or horizon >= summary.last_slot)
    )


def window_figures(
    summary: SeriesSummary, start: int, end: int, horizon: int | None, rule: str
) -> WindowFigures:
    """What rating's slot-by-slot pass gives for [start, end), read from the summary.

    Slots before the first sample take the first value, slots after the last sample the last
    value (rating's documented gap filling); a filled slot at or after ``horizon`` is projected,
    not a gap. Level rules: ``peak``, ``last`` and ``average_daily_peak`` (any other rule gets
    zero, its level being unused).
    """
    if not covers(summary, start, end, horizon):
        raise SummaryError("The window cuts into the sampled range; rate it from raw samples.")
    slot = summary.slot_seconds
    first_cursor = start - start % slot
    last_cursor = (end - 1) - (end - 1) % slot
    leading = (summary.first_slot - first_cursor) // slot
    trailing = (last_cursor - summary.last_slot) // slot
    # The first and last sampled slots may be cut by the window; the signed terms take care of
    # both that and the filled slots before and after them.
    byte_seconds = (
        summary.slot_sum * slot
        + summary.first_value * (summary.first_slot - start)
        + summary.last_value * (end - summary.last_slot - slot)
    )
    trailing_gaps = trailing
    if horizon is not None:
        before_horizon = (horizon - 1) - (horizon - 1) % slot
        trailing_gaps = max(0, (min(last_cursor, before_horizon) - summary.last_slot) // slot)
    gap_slots = leading + summary.gap_count + trailing_gaps
    return WindowFigures(
        byte_seconds=byte_seconds,
        slot_count=leading + summary.slot_count + trailing,
        active_seconds=end - start,
        gap_slots=gap_slots,
        projected_slots=trailing - trailing_gaps,
        level=_level(summary, rule, first_cursor, last_cursor, leading, trailing),
    )


def _level(
    summary: SeriesSummary,
    rule: str,
    first_cursor: int,
    last_cursor: int,
    leading: int,
    trailing: int,
) -> Decimal:
    if rule == "peak":
        # Filled slots never exceed a neighbouring sample, so the peak is a sampled one.
        return Decimal(summary.peak)
    if rule == "last":
        return Decimal(summary.last_value)
    if rule != "average_daily_peak":
        return Decimal(0)
    peaks = dict(summary.day_peaks)
    slot = summary.slot_seconds
    if leading:
        for day in range(first_cursor // DAY, (summary.first_slot - slot) // DAY + 1):
            peaks[day] = max(peaks.get(day, summary.first_value), summary.first_value)
    if trailing:
        for day in range((summary.last_slot + slot) // DAY, last_cursor // DAY + 1):
            peaks[day] = max(peaks.get(day, summary.last_value), summary.last_value)
    return Decimal(sum(peaks.values())) / Decimal(len(peaks))
