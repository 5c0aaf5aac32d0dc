from datetime import UTC, datetime

import pytest
import time_machine

MID_MONTH = datetime(2026, 11, 10, 12, tzinfo=UTC)


@pytest.fixture
def mid_month(lucidsim):
    """Start the test, and a freshly reset simulator, on 10 November: far from a period's end.

    Request it before ``create_fs`` so the domain is made after the reset.
    """
    with time_machine.travel(MID_MONTH, tick=True):
        lucidsim.reset()
        yield MID_MONTH


@pytest.fixture
def domain(lucidsim):
    return lucidsim.create_domain("acme")


@pytest.fixture
def fs_body(domain):
    """A valid create body for portal-test's domain; keyword overrides replace top-level keys."""

    def make(name: str = "media", **overrides) -> dict:
        body = {
            "domain": domain["id"],
            "name": name,
            "storage": {"provider": "IBM", "region": "us-east"},
        }
        body.update(overrides)
        return body

    return make


@pytest.fixture
def create_fs(lucidsim, fs_body):
    """Create a filespace through the API and return its JSON (status 201 asserted)."""

    def make(name: str = "media", **overrides) -> dict:
        response = lucidsim.api("POST", "/filespaces", fs_body(name, **overrides))
        assert response.status_code == 201, response.text
        return response.json()

    return make
