"""Month-to-date usage summaries: kept up to date as samples arrive, read by the pages.

A summary row (MonthUsage) is always what ``billing.summary.summarize`` gives for the stored
samples of its filespace and month: a sample later than the summary's last one is appended; any
other change (a sample out of order, a row missing) rebuilds the row from the raw samples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, JSONField, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from billing import rating, summary
from billing.db import EpochSeconds
from billing.models import MonthUsage, UsageSample
from billing.services.marks import usage_marks_advance

APPEND_CHUNK = 1000
SUMMARY_FIELDS = [
    "customer",
    "slot_seconds",
    "first_slot",
    "first_value",
    "last_slot",
    "last_value",
    "slot_sum",
    "slot_count",
    "sample_count",
    "peak",
    "days",
    "updated_at",
]


READ_FIELDS = [
    "slot_seconds",
    "first_slot",
    "first_value",
    "last_slot",
    "last_value",
    "slot_sum",
    "slot_count",
    "sample_count",
    "peak",
    "days",
]


def summary_of(row: MonthUsage) -> summary.SeriesSummary:
    return _summary_from(*(getattr(row, name) for name in READ_FIELDS))


def _summary_from(
    slot_seconds, first_slot, first_value, last_slot, last_value, slot_sum, slot_count,
    sample_count, peak, days,
) -> summary.SeriesSummary:  # fmt: skip
    day_peaks, day_samples = {}, {}
    for key, figures in days.items():
        day = int(key)
        if figures[0] is not None:
            day_peaks[day] = figures[0]
        if figures[2]:
            day_samples[day] = (figures[1], figures[2], figures[3])
    return summary.SeriesSummary(
        slot_seconds=slot_seconds,
        first_slot=first_slot,
        first_value=first_value,
        last_slot=last_slot,
        last_value=last_value,
        slot_sum=int(slot_sum),
        slot_count=slot_count,
        sample_count=sample_count,
        peak=peak,
        day_peaks=day_peaks,
        day_samples=day_samples,
    )


def _store(row: MonthUsage, month: summary.SeriesSummary, now: datetime) -> MonthUsage:
    row.slot_seconds = month.slot_seconds
    row.first_slot, row.first_value = month.first_slot, month.first_value
    row.last_slot, row.last_value = month.last_slot, month.last_value
    row.slot_sum, row.slot_count = month.slot_sum, month.slot_count
    row.sample_count, row.peak = month.sample_count, month.peak
    days: dict[str, list] = {}
    for day in sorted(set(month.day_peaks) | set(month.day_samples)):
        sampled = month.day_samples.get(day, (0, 0, 0))
        days[str(day)] = [month.day_peaks.get(day), *sampled]
    row.days = days
    row.updated_at = now
    return row


def _raw_series(
    filespace_ids: Iterable[int], month_start: datetime, month_end: datetime
) -> dict[int, dict[int, int]]:
    ids = list(filespace_ids)
    series: dict[int, dict[int, int]] = defaultdict(dict)
    if not ids:
        return series
    rows = (
        UsageSample.objects.filter(filespace_id__in=ids, slot__gte=month_start, slot__lt=month_end)
        .annotate(epoch=EpochSeconds("slot"))
        .values_list("filespace_id", "epoch", "used_storage")
    )
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for filespace_id, epoch, used in cursor.fetchall():
            series[filespace_id][epoch] = used
    return series


@transaction.atomic
def usage_summaries_rebuild(*, filespace_ids: Iterable[int], month_start: datetime) -> int:
    """Recompute the month's summary rows of these filespaces from the raw samples."""
    from provisioning.models import Filespace

    ids = sorted(set(filespace_ids))
    month_start, month_end = rating.month_of(month_start)
    slot_seconds = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    now = timezone.now()
    written = 0
    customers = dict(Filespace.objects.filter(pk__in=ids).values_list("pk", "customer_id"))
    series = _raw_series(ids, month_start, month_end)
    existing = {
        row.filespace_id: row
        for row in MonthUsage.objects.select_for_update().filter(
            filespace_id__in=ids, month=month_start.date()
        )
    }
    stale, fresh, changed = [], [], []
    for filespace_id in ids:
        month = summary.summarize(series.get(filespace_id, {}), slot_seconds)
        row = existing.get(filespace_id)
        if month is None:
            # No sample, or samples off the slot grid: pages rate such a month from raw samples.
            if row is not None:
                stale.append(row.pk)
            continue
        if row is None:
            row = MonthUsage(
                filespace_id=filespace_id,
                customer_id=customers[filespace_id],
                month=month_start.date(),
            )
            fresh.append(_store(row, month, now))
        else:
            changed.append(_store(row, month, now))
        written += 1
    MonthUsage.objects.filter(pk__in=stale).delete()
    MonthUsage.objects.bulk_create(fresh, batch_size=1000)
    MonthUsage.objects.bulk_update(changed, SUMMARY_FIELDS[1:], batch_size=1000)
    # Samples written behind collection's back (docs/billing.md, section 9) reach the marks
    # that the invoice run and the incremental rollup read (billing.services.marks).
    usage_marks_advance()
    return written


def usage_summaries_append(*, slot: datetime, filespace_ids: Iterable[int]) -> int:
    """Add the stored samples of one slot to their month's summaries; returns rows touched.

    The values are read back from the table rather than taken from the caller, so a sample that
    lost an insert race to a concurrent collection is summarized as stored. Rows are locked, and
    a slot already in a summary is skipped, so a doubled call adds nothing. Works through the
    filespaces APPEND_CHUNK at a time (one short transaction each).
    """
    wanted = set(filespace_ids)
    if not wanted:
        return 0
    stored = UsageSample.objects.filter(slot=slot).values_list("filespace_id", "used_storage")
    values = sorted((fs, used) for fs, used in stored if fs in wanted)
    touched = 0
    for index in range(0, len(values), APPEND_CHUNK):
        touched += _append_chunk(slot, dict(values[index : index + APPEND_CHUNK]))
    return touched


@transaction.atomic
def _append_chunk(slot: datetime, values: dict[int, int]) -> int:
    month_start = rating.month_of(slot)[0]
    slot_seconds = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    epoch = int(slot.timestamp())
    rows = {
        row.filespace_id: row
        for row in MonthUsage.objects.select_for_update().filter(
            filespace_id__in=list(values), month=month_start.date()
        )
    }
    now = timezone.now()
    rebuild, changed = [], []
    for filespace_id, used in values.items():
        row = rows.get(filespace_id)
        if row is None or row.slot_seconds != slot_seconds or epoch < row.last_slot:
            rebuild.append(filespace_id)
        elif epoch > row.last_slot:
            month = summary.summary_append(summary_of(row), epoch, used, slot_seconds)
            changed.append(_store(row, month, now))
    MonthUsage.objects.bulk_update(changed, SUMMARY_FIELDS[1:], batch_size=1000)
    if rebuild:
        usage_summaries_rebuild(filespace_ids=rebuild, month_start=month_start)
    return len(changed) + len(rebuild)


def month_summaries(
    *,
    filespace_ids: Iterable[int],
    month_start: datetime,
    days_for: Iterable[int] | None = None,
) -> dict[int, summary.SeriesSummary]:
    """The month's summaries of these filespaces that match the current sampling interval.

    With ``days_for`` only those filespaces' summaries carry their per-day figures (daily
    peaks and chart points), still in one query: the others' are not read nor decoded, so
    only what does not need them (every rule but the average of daily peaks) may use them.
    """
    slot_seconds = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    rows = MonthUsage.objects.filter(
        filespace_id__in=list(filespace_ids), month=month_start.date(), slot_seconds=slot_seconds
    )
    if days_for is None:
        rows = rows.values_list("filespace_id", *READ_FIELDS)
    else:
        wanted = list(days_for)
        days = Value(None, output_field=JSONField())
        if wanted:
            days = Case(
                When(filespace_id__in=wanted, then="days"),
                default=Value(None, output_field=JSONField()),
                output_field=JSONField(),
            )
        rows = rows.annotate(wanted_days=days).values_list(
            "filespace_id", *READ_FIELDS[:-1], "wanted_days"
        )
    return {row[0]: _summary_from(*row[1:-1], row[-1] or {}) for row in rows}


# Σ sampled bytes of a summary row, read from its per-day figures inside PostgreSQL.
SAMPLED_SUM_SQL = "(SELECT coalesce(sum((e.value ->> 1)::numeric), 0) FROM jsonb_each(days) AS e)"


def month_summaries_for_rating(
    *, filespace_ids: Iterable[int], month_start: datetime, full_ids: Iterable[int] = ()
) -> dict[int, tuple[summary.SeriesSummary, int]]:
    """The month's summaries as the invoice run needs them, each with its sum of sampled bytes.

    Rating a window that holds every sampled slot needs only the summary's scalars, except the
    ``average_daily_peak`` rule, which needs the daily peaks: the filespaces in ``full_ids`` get
    the whole summary, the others one without per-day figures (decoding those per-day figures
    cost more than rating). On PostgreSQL the sampled sum (what the run checks against the
    samples) is taken from the per-day figures in the database; elsewhere every summary is read
    whole and summed here.
    """
    ids = list(filespace_ids)
    full = set(full_ids)
    if connection.vendor != "postgresql":
        return {
            filespace_id: (month, sum(day[0] for day in month.day_samples.values()))
            for filespace_id, month in month_summaries(
                filespace_ids=ids, month_start=month_start
            ).items()
        }
    found = {}
    light = [filespace_id for filespace_id in ids if filespace_id not in full]
    if light:
        rows = (
            MonthUsage.objects.filter(
                filespace_id__in=light,
                month=month_start.date(),
                slot_seconds=settings.USAGE_SAMPLE_INTERVAL_SECONDS,
            )
            .annotate(sampled=RawSQL(SAMPLED_SUM_SQL, []))  # noqa: S611 - constant SQL, no input
            .values_list("filespace_id", *READ_FIELDS[:-1], "sampled")
        )
        for filespace_id, *scalars, sampled in rows:
            found[filespace_id] = (_summary_from(*scalars, {}), int(sampled))
    if full:
        for filespace_id, month in month_summaries(
            filespace_ids=sorted(full), month_start=month_start
        ).items():
            found[filespace_id] = (month, sum(day[0] for day in month.day_samples.values()))
    return found
