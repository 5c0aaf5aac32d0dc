"""Byte-seconds of billing windows integrated by PostgreSQL from the raw samples.

The invoice run needs, per filespace and window, the sum of bytes times seconds over every slot
overlapping the window, the number of sampled slots and the highest slot value, with gaps filled the
documented way (docs/billing.md, rule 4): a gap takes the lower of the nearest samples before
and after it inside the month, one alone at either end of the month, zero without samples.

``LEAD``/``LAG`` over each filespace's samples in slot order give every sample its neighbours,
so one row per sample carries three pieces of the month's step function: its own slot, the gap
after it (to the next sample, or to the month's end at its own value) and, for the first sample,
the gap before it (from the month's start, at its own value). Intersecting each piece with the
window and summing is the integral ``billing.rating`` computes slot by slot; a test on PostgreSQL
holds the two equal over random series and windows (tests/billing/test_integrals.py). Money stays
in Python with ``Decimal``; this only sums integers (in 128 bits or ``numeric``: nothing
overflows).

Other databases have no such query here: the run rates them in Python (``billing.rating``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.summary import WindowFigures

# The rules whose figures the query gives: the integral, and the peak (the largest piece).
SQL_RULES = ("time_weighted", "peak")

# date_part gives a float8 (exact for whole seconds), far cheaper than EXTRACT's numeric. Full
# slots inside the window are summed as bigint (PostgreSQL sums bigint in 128 bits) and
# multiplied once; only the few cut slots and gaps are multiplied per row, in numeric.
INTEGRAL_SQL = """
WITH win AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(starts)s::bigint[], %(ends)s::bigint[])
        AS w(filespace_id, a, b)
), samples AS (
    SELECT filespace_id, date_part('epoch', slot)::bigint AS t, used_storage AS v,
           LAG(slot) OVER fs IS NULL AS is_first,
           date_part('epoch', LEAD(slot) OVER fs)::bigint AS next_t,
           LEAD(used_storage) OVER fs AS next_v
    FROM billing_usagesample
    WHERE filespace_id = ANY(%(filespaces)s) AND slot >= %(month_start)s AND slot < %(month_end)s
    WINDOW fs AS (PARTITION BY filespace_id ORDER BY slot)
), pieces AS (
    SELECT w.filespace_id, w.a, w.b, s.v,
           -- overlap of the sample's own slot with the window
           greatest(0, least(s.t + %(slot)s, w.b) - greatest(s.t, w.a)) AS own,
           -- the gap after it: up to the next sample (lower neighbour) or the month's end
           greatest(0, least(coalesce(s.next_t, %(month_end_epoch)s), w.b)
                       - greatest(s.t + %(slot)s, w.a)) AS after,
           least(s.v, coalesce(s.next_v, s.v)) AS after_v,
           -- the gap before the month's first sample, at that sample's value
           CASE WHEN s.is_first
                THEN greatest(0, least(s.t, w.b) - greatest(%(month_start_epoch)s, w.a))
                ELSE 0 END AS before
    FROM win w JOIN samples s ON s.filespace_id = w.filespace_id
)
SELECT filespace_id, a, b,
       coalesce(sum(v) FILTER (WHERE own = %(slot)s), 0) * %(slot)s
       + coalesce(sum(v::numeric * own) FILTER (WHERE own > 0 AND own < %(slot)s), 0)
       + coalesce(sum(after_v::numeric * after) FILTER (WHERE after > 0), 0)
       + coalesce(sum(v::numeric * before) FILTER (WHERE before > 0), 0) AS byte_seconds,
       count(*) FILTER (WHERE own > 0) AS sampled,
       max(greatest(CASE WHEN own > 0 OR before > 0 THEN v END,
                    CASE WHEN after > 0 THEN after_v END)) AS peak
FROM pieces
GROUP BY filespace_id, a, b
"""


@dataclass(frozen=True)
class Window:
    filespace_id: int
    start: int  # epoch seconds, whole
    end: int


def available() -> bool:
    return connection.vendor == "postgresql"


def window_integrals(
    *, windows: list[Window], month_start: datetime, month_end: datetime, slot_seconds: int
) -> dict[Window, WindowFigures]:
    """The figures of each window, ``peak`` as the level (unused by the time-weighted rule).

    One statement for any number of windows. Windows lie inside the month and the month starts
    on a slot boundary (slot lengths divide a day), as rating requires.
    """
    if not windows:
        return {}
    # Each window once: the statement groups by window, so a repeated one would count twice.
    windows = sorted(set(windows), key=lambda w: (w.filespace_id, w.start, w.end))
    params = {
        "ids": [w.filespace_id for w in windows],
        "starts": [w.start for w in windows],
        "ends": [w.end for w in windows],
        "filespaces": sorted({w.filespace_id for w in windows}),
        "month_start": month_start,
        "month_end": month_end,
        "month_start_epoch": int(month_start.timestamp()),
        "month_end_epoch": int(month_end.timestamp()),
        "slot": slot_seconds,
    }
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(INTEGRAL_SQL, params)
        for filespace_id, start, end, byte_seconds, sampled, peak in cursor.fetchall():
            found[Window(filespace_id, start, end)] = (int(byte_seconds), sampled, int(peak or 0))
    figures = {}
    for window in windows:
        # No sample in the month: every slot is a gap filled with zero.
        byte_seconds, sampled, peak = found.get(window, (0, 0, 0))
        slots = slot_count(window.start, window.end, slot_seconds)
        figures[window] = WindowFigures(
            byte_seconds=byte_seconds,
            slot_count=slots,
            active_seconds=window.end - window.start,
            gap_slots=slots - sampled,
            projected_slots=0,
            level=Decimal(peak),
        )
    return figures


def slot_count(start: int, end: int, slot_seconds: int) -> int:
    """Slots overlapping [start, end): from the slot holding ``start`` up to ``end``."""
    first = start - start % slot_seconds
    return -(-(end - first) // slot_seconds)
