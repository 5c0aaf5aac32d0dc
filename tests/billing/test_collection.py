"""Sampling LucidLink usage: one sample per filespace per slot, gaps when it cannot answer."""

from unittest import mock

import pytest
import time_machine

from billing import services, tasks
from billing.models import UsageGap, UsageSample
from provisioning import lucidlink
from tests.billing.conftest import at

pytestmark = pytest.mark.django_db


def test_it_stores_one_sample_per_live_filespace_from_a_single_list_call(
    live_filespace, fake_lucidlink
):
    filespaces = [live_filespace() for _ in range(3)]
    for index, fs in enumerate(filespaces):
        fake_lucidlink.set_usage(fs.remote_id, (index + 1) * 10**9, users=index + 2)

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:17:42"))

    assert result.sampled == 3
    assert fake_lucidlink.list_calls == 1
    assert fake_lucidlink.get_calls == []
    rows = list(UsageSample.objects.order_by("filespace_id").values_list("slot", "used_storage"))
    assert rows == [(at("2026-03-05T10:00"), n * 10**9) for n in (1, 2, 3)]
    assert UsageSample.objects.get(filespace=filespaces[2]).users_count == 4


def test_a_rerun_in_the_same_slot_adds_nothing(live_filespace, fake_lucidlink):
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 5 * 10**9)
    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:01"))
    fake_lucidlink.set_usage(fs.remote_id, 7 * 10**9)

    second = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:59"))

    assert second.sampled == 0
    assert second.already_sampled == 1
    assert list(UsageSample.objects.values_list("used_storage", flat=True)) == [5 * 10**9]


def test_the_next_slot_gets_its_own_sample(live_filespace, fake_lucidlink):
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 10**9)
    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:59"))
    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T11:00"))

    assert UsageSample.objects.filter(filespace=fs).count() == 2


def test_only_filespaces_that_exist_remotely_are_sampled(
    live_filespace, filespace_factory, fake_lucidlink
):
    live = live_filespace()
    filespace_factory(state="requested")
    live_filespace(deleted="2026-02-01T00:00")
    fake_lucidlink.set_usage(live.remote_id, 10**9)

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    assert result.live == 1
    assert list(UsageSample.objects.values_list("filespace_id", flat=True)) == [live.pk]


def test_an_outage_records_a_gap_for_every_filespace_and_raises(live_filespace, fake_lucidlink):
    filespaces = [live_filespace(), live_filespace()]
    fake_lucidlink.list_error = lucidlink.Unavailable("LucidLink answered 503.", status=503)

    with pytest.raises(lucidlink.Unavailable):
        services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    gaps = UsageGap.objects.order_by("filespace_id")
    assert [g.filespace_id for g in gaps] == [fs.pk for fs in filespaces]
    assert "503" in gaps[0].reason
    assert not UsageSample.objects.exists()


def test_a_retry_in_the_same_slot_fills_what_the_outage_missed(live_filespace, fake_lucidlink):
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 3 * 10**9)
    fake_lucidlink.list_error = lucidlink.Unavailable("timeout")
    with pytest.raises(lucidlink.Unavailable):
        services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))
    fake_lucidlink.list_error = None

    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:20"))

    assert UsageSample.objects.get(filespace=fs).used_storage == 3 * 10**9


def test_a_filespace_missing_from_the_list_is_fetched_alone(live_filespace, fake_lucidlink):
    listed, unlisted, unknown = live_filespace(), live_filespace(), live_filespace()
    fake_lucidlink.set_usage(listed.remote_id, 10**9)
    fake_lucidlink.set_usage(unlisted.remote_id, 2 * 10**9)
    fake_lucidlink.unlisted = {unlisted.remote_id}

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    assert sorted(fake_lucidlink.get_calls) == sorted([unlisted.remote_id, unknown.remote_id])
    assert result.sampled == 2
    assert UsageSample.objects.get(filespace=unlisted).used_storage == 2 * 10**9
    gap = UsageGap.objects.get()
    assert gap.filespace_id == unknown.pk
    assert "Filespace not found." in gap.reason


def test_fetches_of_unlisted_filespaces_are_bounded_by_the_concurrency_setting(
    live_filespace, fake_lucidlink, settings
):
    settings.USAGE_SAMPLE_CONCURRENCY = 2
    for _ in range(5):
        fs = live_filespace()
        fake_lucidlink.set_usage(fs.remote_id, 10**9)
        fake_lucidlink.unlisted.add(fs.remote_id)
    with mock.patch("billing.services.usage.ThreadPoolExecutor") as pool:
        pool.return_value.__enter__.return_value.map.side_effect = lambda fn, rows: map(fn, rows)
        services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    pool.assert_called_once_with(max_workers=2)
    assert UsageSample.objects.count() == 5


def test_the_slot_length_follows_the_interval_setting(live_filespace, fake_lucidlink, settings):
    settings.USAGE_SAMPLE_INTERVAL_SECONDS = 900
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 10**9)

    services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:44:59"))

    assert UsageSample.objects.get().slot == at("2026-03-05T10:30")


@time_machine.travel("2026-03-05T10:05:00Z", tick=False)
def test_the_task_retries_when_lucidlink_is_unavailable(live_filespace, fake_lucidlink):
    live_filespace()
    fake_lucidlink.list_error = lucidlink.Unavailable("429", retry_after=120, status=429)
    with (
        mock.patch("provisioning.lucidlink.get_client", return_value=fake_lucidlink),
        mock.patch.object(tasks.collect_usage, "retry", side_effect=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        tasks.collect_usage.run()

    assert retry.call_args.kwargs["countdown"] >= 120
    assert UsageGap.objects.get().slot == at("2026-03-05T10:00")


@time_machine.travel("2026-03-05T10:05:00Z", tick=False)
def test_a_doubled_task_delivery_stores_one_sample(live_filespace, fake_lucidlink):
    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 10**9)
    with mock.patch("provisioning.lucidlink.get_client", return_value=fake_lucidlink):
        first = tasks.collect_usage.run()
        second = tasks.collect_usage.run()

    assert (first["sampled"], second["sampled"]) == (1, 0)
    assert UsageSample.objects.count() == 1


def test_a_filespace_without_stats_yet_gets_a_gap_not_a_zero(live_filespace, fake_lucidlink):
    import dataclasses

    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 10**9)
    fake_lucidlink.remote[fs.remote_id] = dataclasses.replace(
        fake_lucidlink.remote[fs.remote_id], stats=None
    )

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    assert (result.sampled, result.gaps) == (0, 1)
    assert not UsageSample.objects.exists()
    assert UsageGap.objects.get().reason == "LucidLink returned no stats for this filespace"


def test_an_unknown_users_count_is_stored_as_unknown_not_zero(live_filespace, fake_lucidlink):
    import dataclasses

    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 3 * 10**9, users=5)
    remote = fake_lucidlink.remote[fs.remote_id]
    fake_lucidlink.remote[fs.remote_id] = dataclasses.replace(remote, users_count=None)

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    assert result.sampled == 1
    sample = UsageSample.objects.get(filespace=fs)
    assert (sample.used_storage, sample.users_count) == (3 * 10**9, None)
    services.usage_rollup_days(days=[at("2026-03-05T00:00").date()])
    assert fs.daily_usage.get().users_peak is None


def test_an_absent_billed_figure_is_a_gap_that_names_it(live_filespace, fake_lucidlink):
    import dataclasses

    fs = live_filespace()
    fake_lucidlink.set_usage(fs.remote_id, 3 * 10**9)
    remote = fake_lucidlink.remote[fs.remote_id]
    stats = dataclasses.replace(remote.stats, used_storage=None, get_data_size=None)
    fake_lucidlink.remote[fs.remote_id] = dataclasses.replace(remote, stats=stats)

    result = services.usage_collect(client=fake_lucidlink, now=at("2026-03-05T10:00"))

    assert (result.sampled, result.gaps) == (0, 1)
    assert not UsageSample.objects.exists()
    assert UsageGap.objects.get().reason == (
        "LucidLink did not report used_storage, get_data_size for this filespace"
    )
