"""Fixtures for managed operations: lucidsim with the MSP domain `msp`, the real CLI simulator
pointed at it, and filespaces that exist both in the portal and at the simulator."""

import stat
import textwrap

import pytest

from provisioning import lucidlink
from provisioning.domain import msp_domain_forget
from provisioning.models import Filespace

ROOT_PASSWORD = "Root-password-for-tests-1"


@pytest.fixture
def sim(lucidsim, settings, monkeypatch, tmp_path):
    """lucidsim with domain `msp`; the portal's API settings and its CLI runner point at it."""
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    settings.LUCID_CLI_PATH = lucidsim.cli_path
    settings.LUCID_CLI_STATE_DIR = tmp_path / "cli-state"
    settings.LUCID_CLI_TIMEOUT = 20
    monkeypatch.setenv("LUCIDSIM_URL", lucidsim.url)
    lucidsim.domain = lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget()
    yield lucidsim
    lucidlink.forget_tokens()
    msp_domain_forget()


def remote_create(sim, name: str, *, provider="IBM", region="us-east") -> dict:
    body = {
        "domain": sim.domain["id"],
        "name": name,
        "subscriptionType": "teams",
        "storage": {"owner": "lucidlink", "provider": provider, "region": region},
    }
    response = sim.api("POST", "/filespaces", body)
    assert response.status_code == 201, response.text
    return response.json()


def remote_get(sim, remote_id: str) -> dict:
    """The simulator's full view of a filespace (the control API, which never omits a field)."""
    listed = sim.control("GET", "/_sim/filespaces")["filespaces"]
    found = [view for view in listed if view["id"] == remote_id]
    assert found, f"lucidsim has no live filespace {remote_id}"
    return found[0]


@pytest.fixture
def provisioned(sim, filespace_factory, customer_factory):
    """A portal filespace in `provisioned` whose remote twin at lucidsim waits for init-s3."""

    def make(*, customer=None, name="media") -> Filespace:
        customer = customer or customer_factory()
        filespace = filespace_factory(
            customer=customer, name=name, state=Filespace.State.PROVISIONED, domain_name="msp"
        )
        remote = remote_create(sim, filespace.remote_name)
        assert remote_get(sim, remote["id"])["status"] == "provisioned"
        Filespace.objects.filter(pk=filespace.pk).update(
            remote_id=remote["id"], domain_id=sim.domain["id"]
        )
        filespace.refresh_from_db()
        return filespace

    return make


@pytest.fixture
def active(sim, provisioned):
    """An active filespace initialized at lucidsim with ROOT_PASSWORD, which the portal holds."""
    from provisioning.cli import for_filespace

    def make(*, customer=None, name="media") -> Filespace:
        filespace = provisioned(customer=customer, name=name)
        for_filespace(filespace.qualified_name).init_s3(
            root_password=ROOT_PASSWORD, endpoint="s3.example.net", https=True,
            access_key="AK", secret_key="SK", region=filespace.region, provider=filespace.provider,
        )  # fmt: skip
        filespace.root_password = ROOT_PASSWORD
        filespace.state = Filespace.State.ACTIVE
        filespace.save()
        return filespace

    return make


@pytest.fixture
def fake_cli(tmp_path, settings):
    """Point LUCID_CLI_PATH at a script: `fake_cli(body)` writes a bash script and returns it."""

    def make(body: str) -> str:
        path = tmp_path / "fake-lucid"
        path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
        settings.LUCID_CLI_PATH = str(path)
        settings.LUCID_CLI_STATE_DIR = tmp_path / "cli-state"
        return str(path)

    return make


@pytest.fixture
def manager(member_factory, customer_factory):
    """An owner of a fresh customer, signed in by the test through `client.force_login`."""
    return member_factory(role="owner", customer=customer_factory())


def secrets_absent(text: str, *secrets: str) -> bool:
    return all(secret not in text for secret in secrets if secret)
