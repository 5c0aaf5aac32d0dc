"""Server-side SVG line charts: no JavaScript, no CDN, readable when printed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH = 640
HEIGHT = 220
LEFT = 64
RIGHT = 12
TOP = 12
BOTTOM = 28


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: int
    height: int
    average_points: str
    peak_points: str
    y_ticks: list[tuple[str, str]]
    x_ticks: list[tuple[str, str]]
    baseline: str
    right: str
    empty: bool


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten at or above value (a readable axis maximum)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def _label(level: Decimal) -> str:
    text = f"{level.normalize():,f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def usage_chart(
    *,
    title: str,
    unit: str,
    days: list[date],
    averages: dict[date, Decimal],
    peaks: dict[date, Decimal],
) -> Chart:
    """Daily average and peak storage (in the plan's unit) across every day of a month.

    The x axis always spans the whole month, so a month in progress shows how far it has got;
    days without data are simply not drawn.
    """
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max([*peaks.values(), *averages.values()], default=Decimal(0)))
    count = max(len(days), 1)
    index = {day: position for position, day in enumerate(days)}

    def x(position: int) -> float:
        return round(LEFT + plot_width * (position + 0.5) / count, 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_height * float(1 - value / top), 1)

    def points(values: dict[date, Decimal]) -> str:
        return " ".join(f"{x(index[day])},{y(value)}" for day, value in sorted(values.items()))

    levels = [top * Decimal(step) / 4 for step in range(5)]
    # Coordinates go to the template as text: a float would be localized there, number by number.
    y_ticks = [(str(y(level)), f"{_label(level)} {unit}") for level in levels]
    x_ticks = [(str(x(i)), f"{day:%-d %b}") for i, day in enumerate(days) if i % 5 == 0]
    latest = averages[max(averages)] if averages else None
    latest_text = f"{_label(latest.quantize(Decimal('0.01')))} {unit}" if latest is not None else ""
    return Chart(
        title=title,
        description=(
            f"Daily average and peak stored data in {unit}, {len(averages)} of {len(days)} days "
            f"measured; latest daily average {latest_text or 'not measured'}."
        ),
        width=WIDTH,
        height=HEIGHT,
        average_points=points(averages),
        peak_points=points(peaks),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        baseline=str(TOP + plot_height),
        right=str(WIDTH - RIGHT),
        empty=not averages,
    )


# Part of every cache key of a drawn chart: change it when usage_chart or billing/_chart.html
# draws differently, so no page serves a chart drawn the old way.
DRAWING_VERSION = "1"


@dataclass(frozen=True)
class UsageChartData:
    """What one usage chart draws, as plain data: a page looks its drawing up by ``digest()``.

    ``points`` are (day, Σ sampled bytes, samples, largest sample) per measured day, the same
    integers the daily rollups and month summaries hold, so equal data gives an equal digest.
    """

    title: str
    unit: str
    unit_bytes: int
    days: tuple[date, ...]
    points: tuple[tuple[date, int, int, int], ...]

    def digest(self) -> str:
        text = repr((DRAWING_VERSION, self.title, self.unit, self.unit_bytes, self.days[:1],
                     len(self.days), self.points))  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()

    def chart(self) -> Chart:
        unit_bytes = Decimal(self.unit_bytes)
        return usage_chart(
            title=self.title,
            unit=self.unit,
            days=list(self.days),
            averages={day: Decimal(total) / count / unit_bytes
                      for day, total, count, _ in self.points},
            peaks={day: Decimal(largest) / unit_bytes for day, _, _, largest in self.points},
        )  # fmt: skip
