"""Daily rollups are recomputed from raw samples: reruns identical, late samples absorbed."""

from datetime import date

import pytest
from django.db.models import Count, Max, Min, Sum

from billing import services
from billing.models import DailyUsage, UsageGap, UsageSample
from billing.services.marks import usage_marks_advance
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db

FIELDS = [
    "id",
    "filespace_id",
    "customer_id",
    "day",
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


def test_rollups_equal_the_raw_sums(live_filespace):
    first, second = live_filespace(), live_filespace()
    write_samples(first, "2026-03-01T00:00", "2026-03-01T12:00", 10**12)
    write_samples(first, "2026-03-01T12:00", "2026-03-03T00:00", 3 * 10**12)
    write_samples(second, "2026-03-01T06:00", "2026-03-02T06:00", 7 * 10**9)

    services.usage_rollup_days(days=[date(2026, 3, 1), date(2026, 3, 2)])

    for rollup in DailyUsage.objects.all():
        raw = UsageSample.objects.filter(
            filespace_id=rollup.filespace_id, slot__date=rollup.day
        ).aggregate(n=Count("id"), total=Sum("used_storage"), lo=Min("used_storage"),
                    hi=Max("used_storage"))  # fmt: skip
        assert (rollup.sample_count, rollup.used_storage_sum) == (raw["n"], raw["total"])
        assert (rollup.used_storage_min, rollup.used_storage_max) == (raw["lo"], raw["hi"])
    day_one = DailyUsage.objects.get(filespace=first, day=date(2026, 3, 1))
    assert day_one.used_storage_sum == 12 * 10**12 + 12 * 3 * 10**12
    assert day_one.used_storage_last == 3 * 10**12
    assert DailyUsage.objects.count() == 4


def test_a_rerun_writes_identical_rows(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-03T00:00", 10**12)
    services.usage_rollup_days(days=[date(2026, 3, 1), date(2026, 3, 2)])
    before = list(DailyUsage.objects.order_by("id").values_list(*FIELDS))

    services.usage_rollup_days(days=[date(2026, 3, 1), date(2026, 3, 2)])

    assert list(DailyUsage.objects.order_by("id").values_list(*FIELDS)) == before


def test_a_late_sample_is_absorbed_by_the_next_recompute(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-01T10:00", 10**9)
    services.usage_rollup_days(days=[date(2026, 3, 1)])
    write_samples(fs, "2026-03-01T10:00", "2026-03-01T11:00", 5 * 10**9)

    services.usage_rollup_days(days=[date(2026, 3, 1)])

    rollup = DailyUsage.objects.get()
    assert rollup.sample_count == 11
    assert rollup.used_storage_max == 5 * 10**9


def test_read_growth_starts_from_the_previous_days_last_sample(live_filespace):
    fs = live_filespace()
    # write_samples sets getDataSize to the slot's epoch seconds: it grows 3600 per hour.
    write_samples(fs, "2026-03-01T20:00", "2026-03-02T03:00", 10**9)

    services.usage_rollup_days(days=[date(2026, 3, 2)])

    assert DailyUsage.objects.get().get_data_growth == 3 * 3600


def test_gaps_without_a_sample_are_counted(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-01T02:00", 10**9)
    for slot in ("2026-03-01T01:00", "2026-03-01T05:00"):
        UsageGap.objects.create(filespace=fs, customer=fs.customer, slot=at(slot), reason="503")

    services.usage_rollup_days(days=[date(2026, 3, 1)])

    assert DailyUsage.objects.get().gap_count == 1


def test_pruning_removes_old_raw_samples_and_keeps_rollups(live_filespace, settings):
    settings.USAGE_RAW_RETENTION_DAYS = 40
    fs = live_filespace()
    write_samples(fs, "2026-01-01T00:00", "2026-01-02T00:00", 10**9)
    write_samples(fs, "2026-03-01T00:00", "2026-03-01T03:00", 10**9)
    services.usage_rollup_days(days=[date(2026, 1, 1)])

    # Retention is whole months: January goes once 40 days have passed since its last slot.
    result = services.usage_prune(now=at("2026-03-13T04:00"), batch_size=7)

    assert result.rows_deleted == 24
    assert UsageSample.objects.count() == 3
    assert DailyUsage.objects.get().sample_count == 24


def test_sample_slots_are_read_back_as_exact_epoch_seconds(live_filespace):
    from billing.db import EpochSeconds

    fs = live_filespace()
    write_samples(fs, "2026-06-01T00:00", "2026-06-01T02:00", 10**9)

    rows = UsageSample.objects.annotate(epoch=EpochSeconds("slot"))
    epochs = rows.values_list("epoch", flat=True)

    assert sorted(epochs) == [int(at("2026-06-01T00:00").timestamp()) + n * 3600 for n in (0, 1)]


def test_the_sql_rollup_equals_the_python_rollup(live_filespace):
    """PostgreSQL rolls up in one statement; it must write what the Python path writes."""
    from django.db import connection

    from billing.services import usage as usage_services

    if connection.vendor != "postgresql":
        pytest.skip("the SQL rollup runs on PostgreSQL only; SQLite always uses the Python path")
    sampled, gappy, lost = live_filespace(), live_filespace(), live_filespace()
    write_samples(sampled, "2026-03-01T00:00", "2026-03-01T09:00", 10**12)
    write_samples(sampled, "2026-03-01T09:00", "2026-03-03T05:00", 4 * 10**12)
    write_samples(gappy, "2026-02-28T20:00", "2026-03-01T07:00", 7 * 10**9)
    write_samples(gappy, "2026-03-01T13:00", "2026-03-02T00:00", 9 * 10**9)
    for filespace, slot in ((gappy, "2026-03-01T08:00"), (lost, "2026-03-02T03:00"),
                            (sampled, "2026-03-01T05:00")):  # fmt: skip
        UsageGap.objects.create(
            filespace=filespace, customer_id=filespace.customer_id, slot=at(slot), reason="down"
        )
    # LucidLink did not report the users of this filespace: the peak stays unknown (None).
    UsageSample.objects.filter(filespace=gappy).update(users_count=None)
    days = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]

    in_python = usage_services._rollup_days_in_python(days)
    python_rows = list(DailyUsage.objects.order_by("filespace_id", "day").values_list(*FIELDS[1:]))
    DailyUsage.objects.all().delete()
    in_sql = services.usage_rollup_days(days=days)
    sql_rows = list(DailyUsage.objects.order_by("filespace_id", "day").values_list(*FIELDS[1:]))

    assert in_sql == in_python == len(sql_rows) == 5
    assert sql_rows == python_rows
    assert any(row[4] for row in sql_rows) and any(row[10] for row in sql_rows)
    assert None in [row[9] for row in sql_rows]


def _sql_and_python_rows(days):
    from billing.services import usage as usage_services

    DailyUsage.objects.all().delete()
    usage_services._rollup_days_in_python(days)
    python_rows = list(DailyUsage.objects.order_by("filespace_id", "day").values_list(*FIELDS[1:]))
    DailyUsage.objects.all().delete()
    services.usage_rollup_days(days=days)
    sql_rows = list(DailyUsage.objects.order_by("filespace_id", "day").values_list(*FIELDS[1:]))
    return sql_rows, python_rows


def test_the_sql_rollup_equals_the_python_rollup_after_a_mid_month_deletion(live_filespace):
    """Samples deleted across a midnight: the next day's counters start from its own first
    sample, not from the last sample before the hole; days asked for apart are written alone."""
    from django.db import connection
    from django.db.models import F

    if connection.vendor != "postgresql":
        pytest.skip("the SQL rollup runs on PostgreSQL only; SQLite always uses the Python path")
    kept, cut = live_filespace(), live_filespace()
    write_samples(kept, "2026-03-02T12:00", "2026-03-04T12:00", 5 * 10**9)
    write_samples(cut, "2026-03-01T00:00", "2026-03-05T00:00", 3 * 10**12)
    UsageSample.objects.filter(filespace=cut).update(
        used_storage=F("get_data_size") % 1000003, put_data_size=F("get_data_size") % 977
    )
    UsageSample.objects.filter(
        filespace=cut, slot__gte=at("2026-03-02T10:00"), slot__lt=at("2026-03-03T01:00")
    ).delete()

    every_day = [date(2026, 3, day) for day in range(1, 5)]
    sql_rows, python_rows = _sql_and_python_rows(every_day)
    apart_sql, apart_python = _sql_and_python_rows([date(2026, 3, 1), date(2026, 3, 4)])

    assert sql_rows == python_rows
    assert len(sql_rows) == 7
    assert apart_sql == apart_python == [row for row in sql_rows if row[2].day in (1, 4)]
    third = next(row for row in sql_rows if row[0] == cut.pk and row[2] == date(2026, 3, 3))
    # The 3rd's first sample is at 01:00: growth from it (22 hours of the epoch counter).
    assert third[3] == 23 and third[10] == 22 * 3600


def test_a_recompute_writes_only_the_rows_that_changed(live_filespace):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the Python path writes every row it computes")
    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-08T00:00", 10**9)
    week = [date(2026, 3, day) for day in range(1, 8)]
    assert services.usage_rollup_days(days=week) == 7
    UsageSample.objects.filter(filespace=fs, slot=at("2026-03-04T05:00")).delete()

    assert services.usage_rollup_days(days=week) == 1
    assert services.usage_rollup_days(days=week) == 0


def test_two_rollups_in_one_transaction(live_filespace):
    from django.db import transaction

    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-03T00:00", 10**9)

    with transaction.atomic():
        services.usage_rollup_days(days=[date(2026, 3, 1)])
        services.usage_rollup_days(days=[date(2026, 3, 2)])

    assert DailyUsage.objects.filter(filespace=fs).count() == 2


def test_the_first_incremental_rollup_covers_today_and_yesterday(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-03-09T00:00", "2026-03-11T00:00", 10**9)

    days = services.usage_rollup_new(now=at("2026-03-10T12:00"))

    assert days == [date(2026, 3, 9), date(2026, 3, 10)]
    assert DailyUsage.objects.count() == 2


def test_the_incremental_rollup_recomputes_only_days_with_new_samples(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-03-01T00:00", "2026-03-11T00:00", 10**9)
    services.usage_rollup_days(days=[date(2026, 3, d) for d in range(1, 11)])
    services.usage_rollup_new(now=at("2026-03-10T12:00"))
    before = {row.day: row.sample_count for row in DailyUsage.objects.all()}
    UsageSample.objects.filter(filespace=fs, slot=at("2026-03-04T05:00")).delete()
    write_samples(fs, "2026-03-04T05:00", "2026-03-04T06:00", 7 * 10**9)

    days = services.usage_rollup_new(now=at("2026-03-10T13:00"))

    assert days == [date(2026, 3, 4)]
    assert DailyUsage.objects.get(day=date(2026, 3, 4)).used_storage_max == 7 * 10**9
    assert {row.day: row.sample_count for row in DailyUsage.objects.all()} == before
    assert services.usage_rollup_new(now=at("2026-03-10T14:00")) == []


def test_a_new_sample_in_the_last_slot_of_a_day_also_recomputes_the_next_day(live_filespace):
    fs = live_filespace()
    services.usage_rollup_new(now=at("2026-03-10T12:00"))
    write_samples(fs, "2026-03-04T23:00", "2026-03-05T00:00", 10**9)
    UsageGap.objects.create(
        filespace=fs, customer_id=fs.customer_id, slot=at("2026-03-07T03:00"), reason="down"
    )
    # A gap written behind collection's back reaches the marks as every writer's rows do
    # (billing.services.marks; the next collection would raise them too).
    usage_marks_advance()

    days = services.usage_rollup_new(now=at("2026-03-10T13:00"))

    # The 5th's counter growth starts from the 4th's last sample; the gap counts on the 7th.
    assert days == [date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 7)]
    assert DailyUsage.objects.get(day=date(2026, 3, 7)).gap_count == 1
