import itertools

from lucidsim import stats

DAY = 86_400
COUNTERS = [name for name in stats.STAT_FIELDS if name not in ("usedStorage", "filespaceSize")]


def _stats(sim, fs_id) -> dict:
    return sim.api("GET", f"/filespaces/{fs_id}").json()["stats"]


def test_stats_grow_from_gigabytes_to_terabytes_over_weeks(lucidsim, create_fs):
    fs = create_fs("media")
    samples = []
    for days in (1, 1, 5, 7, 14, 30):
        lucidsim.advance_clock(days * DAY)
        samples.append(_stats(lucidsim, fs["id"]))

    first, last = samples[0], samples[-1]
    assert first["filespaceSize"] > 10**9  # A day in, at least a gigabyte.
    assert last["filespaceSize"] > 5 * first["filespaceSize"]
    assert last["usedStorage"] > 100 * 10**9
    for earlier, later in itertools.pairwise(samples):
        for name in stats.STAT_FIELDS:
            assert later[name] >= earlier[name], name
    for sample in samples:
        assert sample["usedStorage"] >= sample["filespaceSize"]
        assert all(isinstance(sample[name], int) for name in stats.STAT_FIELDS)
    assert all(last[name] > 0 for name in COUNTERS)


def test_stats_are_zero_while_provisioning(lucidsim, create_fs):
    lucidsim.set_delay(3600)
    fs = create_fs("media")
    lucidsim.advance_clock(1800)

    assert set(_stats(lucidsim, fs["id"]).values()) == {0}


def test_the_model_is_deterministic_for_a_seed_and_a_filespace():
    one = stats.model_stats(stats.profile_for(42, "media.acme"), 10 * 86_400_000)
    again = stats.model_stats(stats.profile_for(42, "media.acme"), 10 * 86_400_000)
    other_seed = stats.model_stats(stats.profile_for(7, "media.acme"), 10 * 86_400_000)
    other_fs = stats.model_stats(stats.profile_for(42, "archive.acme"), 10 * 86_400_000)

    assert one == again
    assert one != other_seed
    assert one != other_fs


def test_the_model_never_decreases_and_keeps_used_above_size_for_many_filespaces():
    for index in range(50):
        profile = stats.profile_for(42, f"fs{index}.acme")
        previous = stats.model_stats(profile, 0)
        for hours in range(1, 24 * 120, 37):
            current = stats.model_stats(profile, hours * 3_600_000)
            assert current["usedStorage"] >= current["filespaceSize"]
            for name in stats.STAT_FIELDS:
                assert current[name] >= previous[name]
            previous = current
        assert 10**11 < previous["filespaceSize"] < 2 * 10**13  # 100 GB to 20 TB at 4 months.


def test_set_stats_overrides_a_value_and_growth_continues_from_there(lucidsim, create_fs):
    fs = create_fs("media")
    lucidsim.advance_clock(DAY)

    view = lucidsim.set_stats(fs["id"], usedStorage=5 * 10**12, getDataSize=123)
    assert view["stats"]["usedStorage"] == 5 * 10**12
    assert view["stats"]["getDataSize"] == 123
    lucidsim.advance_clock(DAY)
    later = _stats(lucidsim, fs["id"])

    assert later["usedStorage"] > 5 * 10**12
    assert later["getDataSize"] > 123


def test_set_stats_rejects_unknown_fields_and_negative_values(lucidsim, create_fs):
    fs = create_fs("media")
    for body in ({"usedStorage": -1}, {"size": 3}, {"usedStorage": "big"}):
        response = lucidsim._session.patch(
            f"{lucidsim.url}/_sim/filespaces/{fs['id']}/stats", json=body, timeout=10
        )
        assert response.status_code == 400


def test_users_count_follows_the_cli_users(lucidsim, create_fs):
    fs = create_fs("media")
    lucidsim.control(
        "POST",
        "/_sim/cli/init-s3",
        {"fs": "media.acme", "password": "root-pass-1", "provider": "IBM", "region": "us-east"},
    )
    for name in ("ann", "bob"):
        lucidsim.control(
            "POST",
            "/_sim/cli/user",
            {"fs": "media.acme", "password": "root-pass-1", "action": "create", "name": name},
        )
    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["usersCount"] == 2

    lucidsim.control(
        "POST",
        "/_sim/cli/user",
        {"fs": "media.acme", "password": "root-pass-1", "action": "delete", "name": "ANN"},
    )

    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["usersCount"] == 1


def test_status_can_be_forced_through_every_value(lucidsim, create_fs):
    fs = create_fs("media")
    for status in ("provisioning", "provisioned", "initialized", "error"):
        lucidsim.set_status(fs["id"], status)
        assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["status"] == status
    bad = lucidsim._session.post(
        f"{lucidsim.url}/_sim/filespaces/{fs['id']}/status", json={"status": "ready"}, timeout=10
    )
    assert bad.status_code == 400
