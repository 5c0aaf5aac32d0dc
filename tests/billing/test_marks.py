"""The ``written`` marks: ids at or below them are committed, and reading them takes no lock."""

import threading
from dataclasses import replace

import psycopg
import pytest
from django.db import connection, connections

from billing import services
from billing.models import UsageGap, UsageSample
from billing.services.marks import samples_written, usage_marks
from tests.billing.conftest import at, write_samples


def _other_connection():
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=False,
    )


def _need_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("table locks and a second session need PostgreSQL")


@pytest.mark.django_db
def test_a_collection_raises_the_marks_to_its_samples_and_gaps(live_filespace, fake_lucidlink):
    sampled, missing = live_filespace(), live_filespace()
    fake_lucidlink.set_usage(sampled.remote_id, 10**9)
    fake_lucidlink.set_usage(missing.remote_id, 10**9)
    fake_lucidlink.remote[missing.remote_id] = replace(
        fake_lucidlink.remote[missing.remote_id], stats=None
    )  # no stats: a gap

    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:17"))

    assert usage_marks() == (
        UsageSample.objects.latest("id").id,
        UsageGap.objects.latest("id").id,
    )


@pytest.mark.django_db
def test_samples_written_behind_collections_back_reach_the_marks_with_the_rebuild(
    live_filespace,
):
    fs = live_filespace()
    write_samples(fs, "2026-06-01T00:00", "2026-06-01T05:00", 10**12)  # rebuilds the summary
    assert usage_marks()[0] == UsageSample.objects.latest("id").id


@pytest.mark.django_db(transaction=True)
def test_reading_the_mark_waits_for_no_table_lock(live_filespace):
    """Autovacuum holds SHARE UPDATE EXCLUSIVE and inserts ROW EXCLUSIVE: the old read under a
    SHARE lock waited for both; the invoice run's rerun must not."""
    _need_postgresql()
    fs = live_filespace(ready="2026-06-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", 10**12)
    services.invoice_run(year=2026, month=6)
    other = _other_connection()
    try:
        other.execute("LOCK TABLE billing_usagesample IN SHARE UPDATE EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        try:
            result = services.invoice_run(year=2026, month=6)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        other.rollback()
        other.close()
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


@pytest.mark.django_db(transaction=True)
def test_a_mark_never_passes_a_sample_of_a_write_still_open(live_filespace):
    """A writer holds the row from before its ids are drawn to its commit: a reader meanwhile
    gets the mark from before the write, then the new one once it is committed."""
    _need_postgresql()
    fs = live_filespace(ready="2026-06-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-01T02:00", 10**12)
    before = usage_marks()
    inserted, release = threading.Event(), threading.Event()

    def writer():
        try:
            with samples_written():
                write_samples(fs, "2026-06-01T02:00", "2026-06-01T03:00", 10**12, summarize=False)
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inserted.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        during = usage_marks()
    finally:
        release.set()
        thread.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert during == before
    assert usage_marks()[0] == UsageSample.objects.latest("id").id > before[0]
