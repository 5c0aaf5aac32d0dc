"""Collecting usage from LucidLink and rolling it up per day (retention: services/retention.py)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import TruncDate

from billing import rating
from billing.db import EpochSeconds
from billing.models import DailyUsage, RollupMark, UsageGap, UsageSample
from billing.services.marks import samples_written, usage_marks, usage_samples_mark  # noqa: F401
from billing.services.summaries import usage_summaries_append

logger = logging.getLogger(__name__)

# Filespaces that exist at LucidLink and may hold data: these are sampled.
LIVE_STATES = ("provisioned", "active", "deleting")
ROLLUP_FIELDS = [
    "customer",
    "sample_count",
    "gap_count",
    "used_storage_sum",
    "used_storage_min",
    "used_storage_max",
    "used_storage_last",
    "users_peak",
    "get_data_growth",
    "put_data_growth",
]


@dataclass(frozen=True)
class CollectResult:
    slot: datetime
    live: int
    sampled: int
    gaps: int
    already_sampled: int


def _lucidlink_errors():
    from provisioning import lucidlink

    return lucidlink.Unavailable, lucidlink.Rejected


def usage_collect(*, client, now: datetime) -> CollectResult:
    """Store one sample per live filespace for the slot holding ``now``; record gaps.

    One ``GET /filespaces`` serves every filespace; only filespaces missing from that list are
    fetched one by one, at most USAGE_SAMPLE_CONCURRENCY at a time. Inserts ignore conflicts on
    (filespace, slot), so a rerun or a doubled delivery in the same slot adds nothing. When the
    list call fails, every filespace still unsampled gets a gap row and the error is raised for
    the task to retry; a later sample in the same slot makes the gap irrelevant to rating.
    """
    from provisioning.models import Filespace

    unavailable, rejected = _lucidlink_errors()
    slot = rating.slot_start(now, settings.USAGE_SAMPLE_INTERVAL_SECONDS)
    live = list(
        Filespace.objects.filter(state__in=LIVE_STATES, remote_id__isnull=False)
        .exclude(remote_id="")
        .values_list("id", "customer_id", "remote_id")
    )
    done = set(UsageSample.objects.filter(slot=slot).values_list("filespace_id", flat=True))
    todo = [row for row in live if row[0] not in done]
    if not todo:
        return CollectResult(slot, len(live), 0, 0, len(done))
    try:
        listed = {remote.id: remote for remote in client.list_filespaces() if remote.id}
    except unavailable as exc:
        _record_gaps(todo, slot, now, f"LucidLink unavailable: {exc.message}")
        raise

    missing = [row for row in todo if row[2] not in listed]
    problems: dict[int, str] = {}
    if missing:

        def fetch(row):
            try:
                return row, client.get_filespace(row[2]), None
            except rejected as exc:
                return row, None, f"LucidLink refused GET /filespaces/{{id}}: {exc.message}"
            except unavailable as exc:
                return row, None, f"LucidLink unavailable: {exc.message}"

        workers = max(1, min(settings.USAGE_SAMPLE_CONCURRENCY, len(missing)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for row, remote, problem in pool.map(fetch, missing):
                if remote is not None:
                    listed[remote.id] = remote
                else:
                    problems[row[0]] = problem

    samples = []
    gaps = []
    for row in todo:
        remote = listed.get(row[2])
        sample = None if remote is None else _sample_of(remote, row, slot=slot, now=now)
        if isinstance(sample, UsageSample):
            samples.append(sample)
            continue
        reason = problems.get(row[0]) or sample or "LucidLink returned no stats for this filespace"
        gaps.append((row, reason))
    with samples_written():
        UsageSample.objects.bulk_create(samples, batch_size=1000, ignore_conflicts=True)
    usage_summaries_append(slot=slot, filespace_ids=[sample.filespace_id for sample in samples])
    by_reason: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for row, reason in gaps:
        by_reason[reason].append(row)
    for reason, rows in by_reason.items():
        _record_gaps(rows, slot, now, reason)
    if gaps:
        logger.warning("Usage collection for %s: %d filespaces without a sample.", slot, len(gaps))
    return CollectResult(slot, len(live), len(samples), len(gaps), len(done))


# The figures a sample cannot do without: the billed bytes and the cumulative traffic counters.
# The Swagger makes every one of them optional; one that is absent makes the slot a gap (never a
# zero, which would misbill). The users count is kept as unknown (None) instead.
SAMPLE_FIGURES = (
    "used_storage",
    "get_request_count",
    "get_data_size",
    "put_request_count",
    "put_data_size",
    "list_request_count",
    "delete_request_count",
)


def _sample_of(remote, row, *, slot: datetime, now: datetime) -> UsageSample | str:
    """The sample for one answer, or the reason it cannot be one (a gap)."""
    filespace_id, customer_id, _ = row
    stats = remote.stats
    if stats is None:
        return "LucidLink returned no stats for this filespace"
    missing = stats.missing(*SAMPLE_FIGURES)
    if missing:
        return f"LucidLink did not report {', '.join(missing)} for this filespace"
    figures = {name: max(0, getattr(stats, name)) for name in SAMPLE_FIGURES}
    users = remote.users_count
    return UsageSample(
        filespace_id=filespace_id,
        customer_id=customer_id,
        slot=slot,
        sampled_at=now,
        filespace_size=max(0, stats.filespace_size),
        users_count=None if users is None else max(0, users),
        **figures,
    )


def _record_gaps(rows: Iterable[tuple[int, int, str]], slot: datetime, now: datetime, reason: str):
    with samples_written():
        _insert_gaps(rows, slot, now, reason)


def _insert_gaps(rows, slot: datetime, now: datetime, reason: str) -> None:
    UsageGap.objects.bulk_create(
        [
            UsageGap(
                filespace_id=fs, customer_id=cust, slot=slot, reason=reason[:300], recorded_at=now
            )
            for fs, cust, _ in rows
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


def _peak(values: Iterable[int | None]) -> int | None:
    """The largest known value; None when LucidLink reported none of them."""
    known = [value for value in values if value is not None]
    return max(known) if known else None


def usage_rollup_days(*, days: Iterable[date]) -> int:
    """Recompute the DailyUsage rows of the given UTC days from the raw samples.

    An upsert on (filespace, day) with values computed only from the samples makes a rerun write
    identical rows and lets a late sample be absorbed by the next recompute of its day. The
    growth of the cumulative counters starts from the last sample of the previous day, so no
    traffic falls between two days. PostgreSQL computes the rows in one statement and returns
    the number of rows it inserted or changed (equal rows are left alone); other databases
    compute in Python and return the rows written (tests/billing/test_rollups.py holds both
    equal on PostgreSQL).
    """
    days = sorted(set(days))
    if not days:
        return 0
    if connection.vendor == "postgresql":
        params = {
            "days": days,
            "interval": settings.USAGE_SAMPLE_INTERVAL_SECONDS,
            # The scanned range as values, so the planner knows its size (and may scan it
            # in parallel) instead of guessing from a subquery.
            "start": datetime.combine(days[0], time.min, tzinfo=UTC),
            "end": datetime.combine(days[-1], time.min, tzinfo=UTC) + timedelta(days=1),
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # One hash table of (filespace, day) groups: a month of 2,000 filespaces is about
            # 20 MB, which the default 4 MB would spill to disk. For this statement only.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            # Compiling the statement costs more than it saves at this size.
            cursor.execute("SET LOCAL jit = off")
            # The planner overestimates the day rows (it cannot know a filespace has one slot
            # per hour) and so the cost of gathering them from parallel workers.
            cursor.execute("SET LOCAL parallel_setup_cost = 0")
            cursor.execute("SET LOCAL parallel_tuple_cost = 0")
            cursor.execute(ROLLUP_AGG_SQL, params)
            cursor.execute(ROLLUP_SQL, params)
            written = cursor.rowcount
            # Dropped now, not only at commit: a caller's transaction may roll up again.
            cursor.execute("DROP TABLE rollup_agg")
            return written
    return _rollup_days_in_python(days)


def usage_rollup_new(*, now: datetime) -> list[date]:
    """Recompute the daily rollups of only the days that got samples or gaps since the last call.

    A sample changes its own day and, through the counters' baseline, the next day when it is
    the last slot before midnight. The first call (no mark yet) rolls up today and yesterday, as
    the hourly task always did, and sets the marks. A rerun with nothing new recomputes nothing.
    """
    interval = timedelta(seconds=settings.USAGE_SAMPLE_INTERVAL_SECONDS)
    sample_mark, gap_mark = usage_marks()
    with transaction.atomic():
        mark, created = RollupMark.objects.select_for_update().get_or_create(name="daily")
        if created:
            today = now.astimezone(UTC).date()
            days = {today, today - timedelta(days=1)}
        else:
            days = _days_written_since(mark, sample_mark, gap_mark, interval)
        usage_rollup_days(days=days)
        RollupMark.objects.filter(pk=mark.pk).update(
            sample_mark=max(mark.sample_mark, sample_mark),
            gap_mark=max(mark.gap_mark, gap_mark),
            updated_at=now,
        )
    return sorted(days)


def _days_written_since(mark: RollupMark, sample_mark: int, gap_mark: int, interval) -> set[date]:
    days: set[date] = set()
    if sample_mark > mark.sample_mark:
        new = UsageSample.objects.filter(id__gt=mark.sample_mark, id__lte=sample_mark)
        # The slot's own day, and the day of the next slot (whose growth starts from this one).
        for day, next_day in (
            new.annotate(day=TruncDate("slot"), next_day=TruncDate(F("slot") + interval))
            .values_list("day", "next_day")
            .distinct()
        ):
            days.update((day, next_day))
    if gap_mark > mark.gap_mark:
        new_gaps = UsageGap.objects.filter(id__gt=mark.gap_mark, id__lte=gap_mark)
        days.update(new_gaps.annotate(day=TruncDate("slot")).values_list("day", flat=True))
    return days


# The day rows of the samples, computed by a statement of its own: PostgreSQL runs the SELECT
# of an INSERT in one process, but the SELECT of a CREATE TABLE AS in parallel workers (the
# month's 1.4 million samples are most of the rollup's work). One hash GROUP BY keyed by
# filespace and the slot binned to whole UTC days (no per-row date conversion, no sort), from
# one slot before the first day: the sample the first day's counters start from.
ROLLUP_AGG_SQL = """
CREATE TEMPORARY TABLE rollup_agg ON COMMIT DROP AS
SELECT s.filespace_id,
       date_bin('1 day', s.slot, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS day_start,
       min(s.customer_id) AS customer_id, count(*) AS n,
       sum(s.used_storage) AS total, min(s.used_storage) AS lo, max(s.used_storage) AS hi,
       max(s.users_count) AS users, max(s.slot) AS last_slot,
       -- The first and last sample's counters, read in the same pass (arrays compare element
       -- by element, the slot's epoch first): no index probe per day.
       min(ARRAY[date_part('epoch', s.slot)::bigint, s.get_data_size, s.put_data_size])
           AS first_row,
       max(ARRAY[date_part('epoch', s.slot)::bigint, s.used_storage, s.get_data_size,
                 s.put_data_size]) AS last_row
FROM billing_usagesample s
WHERE s.slot >= %(start)s - make_interval(secs => %(interval)s) AND s.slot < %(end)s
GROUP BY 1, 2
"""


# One upsert for any set of days, from the day rows of ROLLUP_AGG_SQL: the counters' baseline,
# the gap rows of slots that got no sample, and an upsert that leaves equal rows alone.
ROLLUP_SQL = """
WITH wanted AS (
    SELECT d AS day, d::timestamp AT TIME ZONE 'UTC' AS day_start
    FROM unnest(%(days)s::date[]) AS d
), picked AS (
    -- The counters' baseline: the filespace's previous day's last sample (LAG over the few day
    -- rows of each filespace) when it lies within one slot before midnight, else the day's
    -- first sample.
    SELECT c.*, (c.day_start AT TIME ZONE 'UTC')::date AS day,
           CASE WHEN c.prev_slot >= c.day_start - make_interval(secs => %(interval)s)
                THEN c.prev_get ELSE c.first_row[2] END AS base_get,
           CASE WHEN c.prev_slot >= c.day_start - make_interval(secs => %(interval)s)
                THEN c.prev_put ELSE c.first_row[3] END AS base_put
    FROM (
        SELECT a.*, a.last_row[2] AS last, a.last_row[3] AS last_get,
               a.last_row[4] AS last_put, LAG(a.last_slot) OVER w AS prev_slot,
               LAG(a.last_row[3]) OVER w AS prev_get, LAG(a.last_row[4]) OVER w AS prev_put
        FROM rollup_agg a
        WINDOW w AS (PARTITION BY a.filespace_id ORDER BY a.day_start)
    ) c
    -- The day before the first (scanned for its last sample) is not written.
    WHERE (c.day_start AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[])
), gaps AS (
    SELECT w.day, g.filespace_id, max(g.customer_id) AS customer_id, count(*) AS n
    FROM wanted w JOIN billing_usagegap g
      ON g.slot >= w.day_start AND g.slot < w.day_start + interval '1 day'
    WHERE NOT EXISTS (
        SELECT 1 FROM billing_usagesample s
        WHERE s.filespace_id = g.filespace_id AND s.slot = g.slot
    )
    GROUP BY w.day, g.filespace_id
)
INSERT INTO billing_dailyusage AS old (
    filespace_id, customer_id, day, sample_count, gap_count, used_storage_sum, used_storage_min,
    used_storage_max, used_storage_last, users_peak, get_data_growth, put_data_growth
)
SELECT coalesce(a.filespace_id, g.filespace_id), coalesce(a.customer_id, g.customer_id),
       coalesce(a.day, g.day), coalesce(a.n, 0), coalesce(g.n, 0), coalesce(a.total, 0),
       coalesce(a.lo, 0), coalesce(a.hi, 0), coalesce(a.last, 0),
       CASE WHEN a.filespace_id IS NULL THEN 0 ELSE a.users END,
       greatest(0, coalesce(a.last_get - a.base_get, 0)),
       greatest(0, coalesce(a.last_put - a.base_put, 0))
FROM picked a
FULL OUTER JOIN gaps g ON g.day = a.day AND g.filespace_id = a.filespace_id
ON CONFLICT (filespace_id, day) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, sample_count = EXCLUDED.sample_count,
    gap_count = EXCLUDED.gap_count, used_storage_sum = EXCLUDED.used_storage_sum,
    used_storage_min = EXCLUDED.used_storage_min, used_storage_max = EXCLUDED.used_storage_max,
    used_storage_last = EXCLUDED.used_storage_last, users_peak = EXCLUDED.users_peak,
    get_data_growth = EXCLUDED.get_data_growth, put_data_growth = EXCLUDED.put_data_growth
WHERE (old.customer_id, old.sample_count, old.gap_count, old.used_storage_sum,
       old.used_storage_min, old.used_storage_max, old.used_storage_last, old.users_peak,
       old.get_data_growth, old.put_data_growth)
  IS DISTINCT FROM
      (EXCLUDED.customer_id, EXCLUDED.sample_count, EXCLUDED.gap_count,
       EXCLUDED.used_storage_sum, EXCLUDED.used_storage_min, EXCLUDED.used_storage_max,
       EXCLUDED.used_storage_last, EXCLUDED.users_peak, EXCLUDED.get_data_growth,
       EXCLUDED.put_data_growth)
"""


def _rollup_days_in_python(days: list[date]) -> int:
    interval = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    written = 0
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        end = start + timedelta(days=1)
        day_epoch = int(start.timestamp())
        rows = (
            UsageSample.objects.filter(slot__gte=start - timedelta(seconds=interval), slot__lt=end)
            .annotate(epoch=EpochSeconds("slot"))
            .order_by("filespace_id", "slot")
            .values_list(
                "filespace_id",
                "customer_id",
                "epoch",
                "used_storage",
                "users_count",
                "get_data_size",
                "put_data_size",
            )
        )
        baseline: dict[int, tuple[int, int]] = {}
        per_filespace: dict[int, list[tuple]] = defaultdict(list)
        sampled_slots: set[tuple[int, int]] = set()
        for row in rows:
            if row[2] < day_epoch:
                baseline[row[0]] = (row[5], row[6])
            else:
                per_filespace[row[0]].append(row)
                sampled_slots.add((row[0], row[2]))
        gap_counts: dict[int, int] = defaultdict(int)
        gap_customers: dict[int, int] = {}
        gap_rows = (
            UsageGap.objects.filter(slot__gte=start, slot__lt=end)
            .annotate(epoch=EpochSeconds("slot"))
            .values_list("filespace_id", "customer_id", "epoch")
        )
        for filespace_id, customer_id, slot in gap_rows:
            if (filespace_id, slot) not in sampled_slots:
                gap_counts[filespace_id] += 1
                gap_customers[filespace_id] = customer_id
        objects = []
        for filespace_id in sorted(set(per_filespace) | set(gap_counts)):
            day_rows = per_filespace.get(filespace_id, [])
            if day_rows:
                used = [row[3] for row in day_rows]
                first_get, first_put = baseline.get(filespace_id, (day_rows[0][5], day_rows[0][6]))
                objects.append(
                    DailyUsage(
                        filespace_id=filespace_id,
                        customer_id=day_rows[0][1],
                        day=day,
                        sample_count=len(day_rows),
                        gap_count=gap_counts.get(filespace_id, 0),
                        used_storage_sum=sum(used),
                        used_storage_min=min(used),
                        used_storage_max=max(used),
                        used_storage_last=used[-1],
                        users_peak=_peak(row[4] for row in day_rows),
                        get_data_growth=max(0, day_rows[-1][5] - first_get),
                        put_data_growth=max(0, day_rows[-1][6] - first_put),
                    )
                )
            else:
                objects.append(
                    DailyUsage(
                        filespace_id=filespace_id,
                        customer_id=gap_customers[filespace_id],
                        day=day,
                        sample_count=0,
                        gap_count=gap_counts[filespace_id],
                        used_storage_sum=0,
                        used_storage_min=0,
                        used_storage_max=0,
                        used_storage_last=0,
                        users_peak=0,
                        get_data_growth=0,
                        put_data_growth=0,
                    )
                )
        DailyUsage.objects.bulk_create(
            objects,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["filespace", "day"],
            update_fields=ROLLUP_FIELDS,
        )
        written += len(objects)
    return written
