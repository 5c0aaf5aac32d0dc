"""Celery beat's schedule store, pinned to a dbm that behaves the same on every Python."""

import dbm.dumb
import shelve

from celery.beat import PersistentScheduler


class _DumbShelve:
    """The part of the `shelve` module PersistentScheduler uses, over dbm.dumb."""

    @staticmethod
    def open(filename: str, writeback: bool = True) -> shelve.Shelf:
        return shelve.Shelf(dbm.dumb.open(filename, "c"), writeback=writeback)


class ScheduleFileScheduler(PersistentScheduler):
    """PersistentScheduler whose schedule file is plain dbm.dumb files.

    Python 3.13 made `shelve` default to dbm.sqlite3; a beat restarted after being killed then
    failed with "locking protocol" while writing its schedule and stopped sending periodic tasks
    (seen in CI), so the poller and the reconciler silently never ran.
    """

    persistence = _DumbShelve
