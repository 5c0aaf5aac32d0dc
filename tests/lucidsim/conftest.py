import pytest


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
