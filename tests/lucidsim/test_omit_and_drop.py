"""The switch that leaves optional fields out of answers, and the fault that drops an answer."""

import pytest
import requests

from lucidsim.config import OMIT_OPTIONAL, OPTIONAL_FIELDS, ConfigError, load_config


def test_omit_optional_leaves_out_every_optional_field_but_id_status_and_stats(lucidsim, create_fs):
    lucidsim.omit_optional()

    created = create_fs()
    listed = lucidsim.api("GET", "/filespaces").json()[0]
    got = lucidsim.api("GET", f"/filespaces/{created['id']}").json()

    for answer in (created, listed, got):
        assert set(answer) == {"id", "domain", "name", "status", "storage", "stats"}
        assert set(answer["storage"]) == {"provider"}
        assert "usedStorage" in answer["stats"]


def test_omit_fields_can_leave_out_any_optional_field_even_the_id(lucidsim, create_fs):
    lucidsim.omit_fields("id", "stats", "storage.bucket")

    answer = create_fs()

    assert "id" not in answer and "stats" not in answer and "bucket" not in answer["storage"]
    assert {"domain", "name", "storage"} <= set(answer)


def test_omit_fields_refuses_a_required_or_unknown_field(lucidsim):
    response = requests.patch(
        lucidsim.url + "/_sim/config", json={"omit_fields": ["storage.provider"]}, timeout=5
    )

    assert response.status_code == 400
    assert "storage.provider" in response.json()["message"]


def test_a_reset_brings_every_field_back(lucidsim, create_fs):
    lucidsim.omit_optional()
    lucidsim.reset()

    assert lucidsim.control("GET", "/_sim/config")["omit_fields"] == []


def test_the_flag_and_the_environment_turn_it_on(monkeypatch):
    assert load_config(["--omit-optional"]).omit_fields == OMIT_OPTIONAL
    monkeypatch.setenv("LUCIDSIM_OMIT_OPTIONAL", "1")
    assert load_config([]).omit_fields == OMIT_OPTIONAL
    monkeypatch.setenv("LUCIDSIM_OMIT_OPTIONAL", "")
    assert load_config([]).omit_fields == ()
    assert set(OMIT_OPTIONAL) < set(OPTIONAL_FIELDS)
    assert issubclass(ConfigError, ValueError)


def test_a_dropped_answer_acts_then_closes_the_connection(lucidsim, create_fs):
    lucidsim.add_fault(operation="createFilespace", drop_after=True)

    with pytest.raises(requests.ConnectionError):
        create_fs()

    assert len(lucidsim.api("GET", "/filespaces").json()) == 1  # it was created
    assert lucidsim.count("createFilespace") == 1
