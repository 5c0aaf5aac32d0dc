"""Retention of raw usage: partitions made ahead, whole old months dropped (docs/scaling.md).

On PostgreSQL the samples table is partitioned by month (billing/partitions.py): beat creates
this month's partition and the next ones every day, and retention detaches and drops the
partitions of months wholly older than USAGE_RAW_RETENTION_DAYS. SQLite keeps one plain table:
the same functions create nothing there and delete the same months' rows instead, so both
databases keep and remove exactly the same samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from billing import partitions
from billing.models import UsageGap, UsageSample

logger = logging.getLogger(__name__)

# Creating, detaching or dropping a partition takes an exclusive lock on the samples table for a
# moment; behind a long reader (an invoice run) it would hold every collection insert back while
# it waits. It gives up instead, and the next daily run tries again (partitions are made months
# ahead, and a month kept a day longer is harmless).
LOCK_TIMEOUT = "10s"


def _lock_timeout(cursor) -> None:
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])


@dataclass(frozen=True)
class PruneResult:
    before: date  # every sample and gap of a slot before this month start is gone
    partitions_dropped: list[str] = field(default_factory=list)
    rows_deleted: int = 0  # deleted one by one: SQLite's samples, DEFAULT's old rows, gaps


def _partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return partitions.is_partitioned(cursor)


def retention_start(*, now: datetime) -> date:
    """The first month kept: a month goes once its last slot is older than the retention.

    Retention is whole months, so a month's samples stay until all of them have aged out; no
    partition is ever trimmed row by row, and an invoice can be recomputed for the whole month.
    """
    cutoff = now - timedelta(days=settings.USAGE_RAW_RETENTION_DAYS)
    return partitions.month_start(cutoff)


@transaction.atomic
def usage_partitions_ensure(*, now: datetime) -> list[str]:
    """Create the partitions of this month and the next USAGE_PARTITION_MONTHS_AHEAD; idempotent.

    Also gives a partition to every kept month whose samples went to the DEFAULT partition (they
    arrived before their month had one), moving those rows into it. Returns the names created;
    on SQLite, where the table is not partitioned, nothing.
    """
    if not _partitioned():
        return []
    this_month = partitions.month_start(now)
    months = [
        partitions.add_months(this_month, n)
        for n in range(settings.USAGE_PARTITION_MONTHS_AHEAD + 1)
    ]
    keep_from = retention_start(now=now)
    with connection.cursor() as cursor:
        _lock_timeout(cursor)
        stranded = [m for m in partitions.months_in_default(cursor) if m >= keep_from]
        created = partitions.ensure(cursor, months=months + stranded)
    if stranded:
        logger.warning(
            "Usage samples of %s were in the default partition; moved to their own partitions.",
            ", ".join(f"{m:%Y-%m}" for m in stranded),
        )
    return created


# Rows in the DEFAULT partition are counted up to this many: it should hold none for more than a
# day, and a scrape must stay cheap even when something went badly wrong.
DEFAULT_ROWS_COUNTED = 10_000


@dataclass(frozen=True)
class PartitionHealth:
    months_missing: int  # of this month and the next USAGE_PARTITION_MONTHS_AHEAD
    rows_in_default: int  # samples that arrived when their month had no partition (capped)


def usage_partitions_health(*, now: datetime) -> PartitionHealth:
    """What monitoring watches: partitions the daily task should have made, rows it should move.

    A table that is not partitioned (SQLite) needs neither, so both are 0 there.
    """
    if not _partitioned():
        return PartitionHealth(months_missing=0, rows_in_default=0)
    this_month = partitions.month_start(now)
    wanted = {
        partitions.add_months(this_month, n)
        for n in range(settings.USAGE_PARTITION_MONTHS_AHEAD + 1)
    }
    with connection.cursor() as cursor:
        missing = len(wanted - partitions.months_present(cursor).keys())
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {partitions.DEFAULT} LIMIT %s) AS capped",  # noqa: S608
            [DEFAULT_ROWS_COUNTED],
        )
        (in_default,) = cursor.fetchone()
    return PartitionHealth(months_missing=missing, rows_in_default=in_default)


def usage_prune(*, now: datetime, batch_size: int = 10_000) -> PruneResult:
    """Remove raw samples and gaps of the months wholly older than USAGE_RAW_RETENTION_DAYS.

    PostgreSQL detaches and drops those months' partitions (no row deleted one by one) and
    deletes only the few such rows left in the DEFAULT partition; SQLite deletes the rows.
    Rollups, month summaries and invoice lines stay.
    """
    before = retention_start(now=now)
    start = partitions.bound(before)
    dropped: list[str] = []
    if _partitioned():
        with transaction.atomic(), connection.cursor() as cursor:
            _lock_timeout(cursor)
            dropped = partitions.drop_before(cursor, before=before)
    deleted = 0
    for model in (UsageSample, UsageGap):
        while True:
            old = model.objects.filter(slot__lt=start).values_list("pk", flat=True)
            ids = list(old[:batch_size])
            if not ids:
                break
            deleted += model.objects.filter(pk__in=ids).delete()[0]
    if dropped:
        logger.info("Usage retention dropped the partitions %s.", ", ".join(dropped))
    return PruneResult(before=before, partitions_dropped=dropped, rows_deleted=deleted)
