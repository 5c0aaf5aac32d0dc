"""The ``written`` marks: how far samples and gaps are committed, read without a table lock.

Readers (the invoice run's samples mark, the incremental rollup) need an id below which every
UsageSample (and UsageGap) is committed, so that "ids above the mark" are exactly the rows
written since. They used to read ``max(id)`` under a momentary ``SHARE`` lock on the table,
which waits for every open insert and conflicts with autovacuum. Now writers keep the mark in
a row (``RollupMark`` named ``written``) and readers read that row.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from billing.models import RollupMark

WRITTEN = "written"


def usage_marks() -> tuple[int, int]:
    """The samples and gaps marks: every UsageSample and UsageGap id up to them is committed.

    Read from the ``RollupMark`` row ``written`` that writers keep (``usage_marks_advance``),
    by a plain read: no table lock, so it never waits for an insert or for autovacuum. Ids come
    from a sequence when an insert runs, so ``max(id)`` alone could lie above an id a still
    open transaction holds; the row cannot, because every writer takes its lock before drawing
    ids and sets it to the highest id only when it is done (``samples_written``). The first
    call on a database without the row (samples loaded before it existed) writes it once.
    """
    row = RollupMark.objects.filter(name=WRITTEN).values_list("sample_mark", "gap_mark").first()
    if row is None:
        return _marks_start()
    return row


@transaction.atomic
def _marks_start() -> tuple[int, int]:
    """Once per database: the marks from the tables themselves, read as they used to be (under
    a momentary SHARE lock, which waits for every open insert), then kept in the row."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE billing_usagesample, billing_usagegap IN SHARE MODE")
    return usage_marks_advance()


def usage_samples_mark() -> int:
    """The samples mark of ``usage_marks`` (kept for older callers)."""
    return usage_marks()[0]


@transaction.atomic
def usage_marks_advance() -> tuple[int, int]:
    """Writers: raise the ``written`` marks to the highest stored ids, under the row's lock.

    Code that writes samples or gaps calls it in the same transaction, after the lock was
    taken by ``samples_written`` (usage collection), or afterwards (``usage_summaries_rebuild``
    does, which docs/billing.md, section 9, asks of every other writer). The ids are read
    through the primary key's index, so this costs two index probes.
    """
    mark, _ = RollupMark.objects.select_for_update().get_or_create(name=WRITTEN)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM billing_usagesample), "
            "(SELECT coalesce(max(id), 0) FROM billing_usagegap)"
        )
        samples, gaps = cursor.fetchone()
    samples, gaps = max(samples, mark.sample_mark), max(gaps, mark.gap_mark)
    if (samples, gaps) != (mark.sample_mark, mark.gap_mark):
        RollupMark.objects.filter(pk=mark.pk).update(
            sample_mark=samples, gap_mark=gaps, updated_at=timezone.now()
        )
    return samples, gaps


@contextmanager
def samples_written():
    """A transaction for writing samples or gaps that keeps the ``written`` marks true.

    The row lock is taken before the inserts draw their ids and held until the commit, and the
    marks are raised to the new highest ids at the end, so no id at or below a committed mark
    belongs to a transaction still open. Writers are serialized on the row (one collection per
    slot; the lock is held for the inserts only).
    """
    with transaction.atomic():
        RollupMark.objects.select_for_update().get_or_create(name=WRITTEN)
        yield
        usage_marks_advance()
