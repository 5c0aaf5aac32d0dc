"""Usage samples partitioned by month on PostgreSQL; retention by whole months on both databases.

The months used here (2029-2031) are far from any month the test database's migration made a
partition for, and a test that needs a month without a partition removes it first (inside the
test's transaction), so nothing depends on today's date.
"""

from datetime import date

import pytest
import time_machine
from django.db import connection

from billing import partitions, services, tasks
from billing.models import UsageGap, UsageSample
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only"
)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the plain table")


def without_partitions(*months: date) -> None:
    """Make sure these months have no partition (whatever the date the database was made)."""
    with connection.cursor() as cursor:
        present = partitions.months_present(cursor)
        for month in months:
            if month in present:
                cursor.execute(f"ALTER TABLE {partitions.TABLE} DETACH PARTITION {present[month]}")
                cursor.execute(f"DROP TABLE {present[month]}")


def partition_of_rows() -> dict[str, str]:
    """Each sample's slot (ISO) -> the table that holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT slot, tableoid::regclass::text FROM billing_usagesample ORDER BY slot"
        )
        return {slot.isoformat(): table for slot, table in cursor.fetchall()}


def partition_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(partitions.months_present(cursor).values())


def insert_ignoring_conflicts(fs, *slots: str) -> None:
    """As collection inserts: ON CONFLICT DO NOTHING on (filespace, slot)."""
    template = UsageSample.objects.filter(filespace=fs).first()
    rows = []
    for slot in slots:
        row = UsageSample.objects.get(pk=template.pk)
        row.pk, row.slot = None, at(slot)
        rows.append(row)
    UsageSample.objects.bulk_create(rows, ignore_conflicts=True)


def seeded(names: list[str]) -> list[str]:
    """The names of the months these tests use (the migration made some for today's months)."""
    return [name for name in names if name >= "billing_usagesample_2029"]


def gap(fs, slot: str) -> UsageGap:
    return UsageGap.objects.create(filespace=fs, customer=fs.customer, slot=at(slot), reason="503")


@postgresql_only
def test_the_samples_table_is_partitioned_by_slot_with_the_same_keys():
    with connection.cursor() as cursor:
        assert partitions.is_partitioned(cursor)
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'billing_usagesample'::regclass AND contype IN ('p', 'u')"
        )
        keys = dict(cursor.fetchall())
        cursor.execute("SELECT to_regclass('billing_usagesample_default') IS NOT NULL")
        has_default = cursor.fetchone()[0]

    assert keys == {
        "billing_usagesample_pkey": "PRIMARY KEY (id, slot)",
        "usage_sample_one_per_slot": "UNIQUE (filespace_id, slot)",
    }
    assert has_default


@postgresql_only
def test_samples_land_in_the_partition_of_their_month_across_a_month_end(live_filespace):
    without_partitions(date(2030, 1, 1), date(2030, 2, 1), date(2030, 3, 1))
    fs = live_filespace()

    created = services.usage_partitions_ensure(now=at("2030-01-31T23:30"))
    write_samples(fs, "2030-01-31T22:00", "2030-02-01T02:00", 10**9)

    assert created == [
        "billing_usagesample_2030_01",
        "billing_usagesample_2030_02",
        "billing_usagesample_2030_03",
    ]
    assert partition_of_rows() == {
        "2030-01-31T22:00:00+00:00": "billing_usagesample_2030_01",
        "2030-01-31T23:00:00+00:00": "billing_usagesample_2030_01",
        "2030-02-01T00:00:00+00:00": "billing_usagesample_2030_02",
        "2030-02-01T01:00:00+00:00": "billing_usagesample_2030_02",
    }


@postgresql_only
def test_making_the_partitions_ahead_again_creates_nothing():
    without_partitions(date(2030, 1, 1), date(2030, 2, 1), date(2030, 3, 1))
    services.usage_partitions_ensure(now=at("2030-01-01T00:00"))
    before = partition_names()

    again = services.usage_partitions_ensure(now=at("2030-01-31T23:59"))

    assert again == []
    assert partition_names() == before


@postgresql_only
def test_beat_makes_the_partitions_of_the_pinned_month_and_the_next_ones(settings):
    settings.USAGE_PARTITION_MONTHS_AHEAD = 1
    without_partitions(date(2030, 12, 1), date(2031, 1, 1), date(2031, 2, 1))

    with time_machine.travel("2030-12-31T23:59:59Z", tick=False):
        created = tasks.ensure_usage_partitions()

    assert created == ["billing_usagesample_2030_12", "billing_usagesample_2031_01"]
    assert "billing_usagesample_2031_02" not in partition_names()


@postgresql_only
def test_a_month_without_a_partition_goes_to_default_and_moves_into_its_partition(
    live_filespace,
):
    without_partitions(date(2031, 7, 1), date(2031, 8, 1), date(2031, 9, 1))
    fs = live_filespace()
    write_samples(fs, "2031-07-31T22:00", "2031-08-01T01:00", 10**9, summarize=False)
    ids = sorted(UsageSample.objects.values_list("pk", flat=True))
    assert set(partition_of_rows().values()) == {"billing_usagesample_default"}

    created = services.usage_partitions_ensure(now=at("2031-07-31T23:00"))

    assert created == [
        "billing_usagesample_2031_07",
        "billing_usagesample_2031_08",
        "billing_usagesample_2031_09",
    ]
    assert partition_of_rows() == {
        "2031-07-31T22:00:00+00:00": "billing_usagesample_2031_07",
        "2031-07-31T23:00:00+00:00": "billing_usagesample_2031_07",
        "2031-08-01T00:00:00+00:00": "billing_usagesample_2031_08",
    }
    assert sorted(UsageSample.objects.values_list("pk", flat=True)) == ids
    # The unique key still holds in the new partition: the same slot again adds nothing.
    insert_ignoring_conflicts(fs, "2031-07-31T23:00")
    assert UsageSample.objects.count() == 3


@postgresql_only
def test_monitoring_sees_the_months_not_made_ahead_and_the_rows_waiting_in_default(
    live_filespace, settings, monkeypatch
):
    from billing.services import retention

    settings.USAGE_PARTITION_MONTHS_AHEAD = 2
    without_partitions(date(2031, 10, 1), date(2031, 11, 1), date(2031, 12, 1))
    fs = live_filespace()
    write_samples(fs, "2031-10-31T20:00", "2031-11-01T01:00", 10**9, summarize=False)
    now = at("2031-10-31T23:30")

    assert retention.usage_partitions_health(now=now) == retention.PartitionHealth(
        months_missing=3, rows_in_default=5
    )
    monkeypatch.setattr(retention, "DEFAULT_ROWS_COUNTED", 2)
    assert retention.usage_partitions_health(now=now).rows_in_default == 2

    services.usage_partitions_ensure(now=now)

    assert retention.usage_partitions_health(now=now) == retention.PartitionHealth(
        months_missing=0, rows_in_default=0
    )
    # A month later the window has moved on by one month, which the daily run has not made yet.
    assert retention.usage_partitions_health(now=at("2031-11-01T00:30")).months_missing == 1


@sqlite_only
def test_monitoring_of_partitions_reads_nothing_missing_on_a_plain_table(live_filespace):
    from billing.services import retention

    write_samples(live_filespace(), "2031-10-31T20:00", "2031-11-01T01:00", 10**9)

    health = retention.usage_partitions_health(now=at("2031-10-31T23:30"))

    assert health == retention.PartitionHealth(months_missing=0, rows_in_default=0)


@postgresql_only
def test_stranded_rows_of_a_month_past_retention_are_left_for_retention(live_filespace, settings):
    settings.USAGE_RAW_RETENTION_DAYS = 40
    without_partitions(date(2031, 3, 1))
    fs = live_filespace()
    write_samples(fs, "2031-03-10T00:00", "2031-03-10T02:00", 10**9, summarize=False)

    created = services.usage_partitions_ensure(now=at("2031-06-15T00:00"))
    result = services.usage_prune(now=at("2031-06-15T00:00"))

    assert "billing_usagesample_2031_03" not in created
    assert result.rows_deleted == 2
    assert UsageSample.objects.count() == 0


@postgresql_only
def test_collection_still_keeps_one_sample_per_filespace_and_slot(live_filespace, fake_lucidlink):
    without_partitions(date(2030, 1, 1))
    services.usage_partitions_ensure(now=at("2030-01-31T23:00"))
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 5 * 10**9)

    services.usage_collect(client=fake_lucidlink, now=at("2030-01-31T23:10"))
    services.usage_collect(client=fake_lucidlink, now=at("2030-01-31T23:50"))
    services.usage_collect(client=fake_lucidlink, now=at("2030-02-01T00:05"))
    services.usage_collect(client=fake_lucidlink, now=at("2030-02-01T00:55"))

    assert partition_of_rows() == {
        "2030-01-31T23:00:00+00:00": "billing_usagesample_2030_01",
        "2030-02-01T00:00:00+00:00": "billing_usagesample_2030_02",
    }


def test_collection_keeps_one_sample_per_slot_on_either_database(live_filespace, fake_lucidlink):
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 5 * 10**9)

    for moment in ("2030-01-31T23:10", "2030-01-31T23:50", "2030-02-01T00:05"):
        services.usage_collect(client=fake_lucidlink, now=at(moment))

    assert list(UsageSample.objects.values_list("slot", flat=True)) == [
        at("2030-01-31T23:00"),
        at("2030-02-01T00:00"),
    ]


def seed_around_a_month_end(live_filespace):
    """Samples and gaps of December 2029 (up to its last slot) and January 2030."""
    if connection.vendor == "postgresql":
        without_partitions(date(2029, 12, 1), date(2030, 1, 1), date(2030, 2, 1))
        services.usage_partitions_ensure(now=at("2029-12-01T00:00"))
    fs = live_filespace()
    write_samples(fs, "2029-12-31T20:00", "2030-01-01T01:00", 10**9, summarize=False)
    write_samples(fs, "2030-01-31T23:00", "2030-02-01T00:00", 10**9, summarize=False)
    gap(fs, "2029-12-31T23:00")
    gap(fs, "2030-01-01T00:00")
    return fs


def test_retention_keeps_a_month_until_its_last_slot_has_aged_out(live_filespace, settings):
    settings.USAGE_RAW_RETENTION_DAYS = 40
    seed_around_a_month_end(live_filespace)

    # 40 days before this is 2029-12-31T23:59: December still has a slot within retention.
    result = services.usage_prune(now=at("2030-02-09T23:59"))

    assert result.before == date(2029, 12, 1)
    assert seeded(result.partitions_dropped) == []
    assert result.rows_deleted == 0
    assert UsageSample.objects.count() == 6
    assert UsageGap.objects.count() == 2


def test_retention_removes_whole_old_months_and_keeps_every_row_of_the_next(
    live_filespace, settings
):
    settings.USAGE_RAW_RETENTION_DAYS = 40
    seed_around_a_month_end(live_filespace)

    with time_machine.travel("2030-02-10T00:00:00Z", tick=False):
        result = tasks.prune_usage_samples()

    assert result["before"] == "2030-01-01"
    assert sorted(UsageSample.objects.values_list("slot", flat=True)) == [
        at("2030-01-01T00:00"),
        at("2030-01-31T23:00"),
    ]
    assert list(UsageGap.objects.values_list("slot", flat=True)) == [at("2030-01-01T00:00")]
    if connection.vendor == "postgresql":
        assert seeded(result["partitions_dropped"]) == ["billing_usagesample_2029_12"]
        assert result["rows_deleted"] == 1  # the gap; December's 4 samples went with the table
        assert "billing_usagesample_2029_12" not in partition_names()
        assert "billing_usagesample_2030_01" in partition_names()
    else:
        assert result["partitions_dropped"] == []
        assert result["rows_deleted"] == 5  # December's 4 samples and its gap


def test_retention_run_twice_removes_nothing_more(live_filespace, settings):
    settings.USAGE_RAW_RETENTION_DAYS = 40
    seed_around_a_month_end(live_filespace)
    services.usage_prune(now=at("2030-02-10T00:00"))

    again = services.usage_prune(now=at("2030-02-28T23:59"))

    assert again.partitions_dropped == []
    assert again.rows_deleted == 0
    assert UsageSample.objects.count() == 2


@sqlite_only
def test_sqlite_keeps_a_plain_table_and_makes_no_partitions():
    assert services.usage_partitions_ensure(now=at("2030-01-31T23:00")) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name LIKE 'billing_usagesample%'"
        )
        assert cursor.fetchall() == [("billing_usagesample",)]


@postgresql_only
def test_the_migration_converts_a_plain_table_keeping_rows_ids_and_keys(live_filespace):
    without_partitions(date(2029, 11, 1), date(2029, 12, 1))
    fs = live_filespace()
    write_samples(fs, "2029-11-30T22:00", "2029-12-01T02:00", 10**9, summarize=False)
    before = sorted(UsageSample.objects.values_list("pk", "slot", "used_storage"))
    with connection.cursor() as cursor:
        partitions.revert(cursor)
        assert not partitions.is_partitioned(cursor)
        assert sorted(UsageSample.objects.values_list("pk", "slot", "used_storage")) == before

        partitions.convert(cursor, months=[date(2029, 12, 1)])

        assert partitions.is_partitioned(cursor)
    assert sorted(UsageSample.objects.values_list("pk", "slot", "used_storage")) == before
    assert set(partition_of_rows().values()) == {
        "billing_usagesample_2029_11",
        "billing_usagesample_2029_12",
    }
    # The sequence continues after the highest id, and the unique key holds.
    insert_ignoring_conflicts(fs, "2029-12-01T01:00", "2029-12-01T02:00")
    assert UsageSample.objects.count() == 5
    assert UsageSample.objects.order_by("pk").last().pk > before[-1][0]
