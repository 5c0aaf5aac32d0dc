"""Server-side SVG line charts: no JavaScript, no CDN, readable when printed."""

from __future__ import annotations

from dataclasses import dataclass
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
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    baseline: float
    right: float
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


def usage_chart(
    *, title: str, unit: str, labels: list[str], averages: list[Decimal], peaks: list[Decimal]
) -> Chart:
    """Daily average and peak storage (in the plan's unit) across the days of a month."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max([*peaks, *averages], default=Decimal(0)))
    count = max(len(labels), 1)

    def x(index: int) -> float:
        return round(LEFT + plot_width * (index + 0.5) / count, 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_height * float(1 - value / top), 1)

    def points(values: list[Decimal]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))

    levels = [top * Decimal(step) / 4 for step in range(5)]
    y_ticks = [(y(level), f"{level:,.6g} {unit}") for level in levels]
    every = max(1, count // 6)
    x_ticks = [(x(i), label) for i, label in enumerate(labels) if i % every == 0]
    latest = f"{averages[-1]:,.2f} {unit}" if averages else "no data"
    return Chart(
        title=title,
        description=(
            f"Daily average and peak stored data in {unit} over {len(labels)} days; "
            f"latest daily average {latest}."
        ),
        width=WIDTH,
        height=HEIGHT,
        average_points=points(averages),
        peak_points=points(peaks),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        baseline=TOP + plot_height,
        right=WIDTH - RIGHT,
        empty=not labels,
    )
