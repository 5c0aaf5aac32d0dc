"""The MSP domain: discovery through our client seam (faked here), caching and creation."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from provisioning import domain as domains
from provisioning import lucidlink
from provisioning.domain import (
    DomainAmbiguous,
    DomainMissing,
    InvalidDomainName,
    domain_create,
    msp_domain,
    msp_domain_forget,
)
from provisioning.lucidlink import Domain

ROOT = Path(__file__).resolve().parents[2]


class FakeClient:
    """Stands in for LucidLinkClient at our own seam: domains in memory, calls counted."""

    def __init__(self, *existing: Domain, api_url: str | None = None) -> None:
        self.api_url = api_url or f"https://api.{uuid.uuid4().hex[:8]}.test/api/v1"
        self.client_id = "msp"
        self.domains = list(existing)
        self.calls: list[str] = []
        self.failure: Exception | None = None

    def list_domains(self) -> list[Domain]:
        self.calls.append("list")
        if self.failure:
            raise self.failure
        return list(self.domains)

    def create_domain(self, name: str) -> Domain:
        self.calls.append(f"create {name}")
        if self.failure:
            raise self.failure
        created = Domain(id=f"dom-{len(self.domains) + 1}", name=name)
        self.domains.append(created)
        return created


@pytest.fixture
def fake(monkeypatch):
    client = FakeClient()
    monkeypatch.setattr(lucidlink, "get_client", lambda: client)
    yield client
    msp_domain_forget(client=client)


def test_the_domain_is_asked_for_once_then_served_from_the_cache(fake):
    fake.domains.append(Domain(id="dom-7", name="msp-one"))

    first = msp_domain(client=fake)
    second = msp_domain(client=fake)

    assert first == second == Domain(id="dom-7", name="msp-one")
    assert fake.calls == ["list"]


def test_the_settings_client_is_used_when_none_is_given(fake):
    fake.domains.append(Domain(id="dom-7", name="msp-one"))

    assert msp_domain().id == "dom-7"
    assert fake.calls == ["list"]


def test_two_accounts_never_share_a_cached_domain(fake):
    fake.domains.append(Domain(id="dom-a", name="account-a"))
    other = FakeClient(Domain(id="dom-b", name="account-b"))
    other.client_id = "another-client"
    other.api_url = fake.api_url

    assert msp_domain(client=fake).id == "dom-a"
    assert msp_domain(client=other).id == "dom-b"
    msp_domain_forget(client=other)


def test_forgetting_the_domain_makes_the_next_lookup_ask_again(fake):
    fake.domains.append(Domain(id="dom-7", name="msp-one"))
    msp_domain(client=fake)
    fake.domains[0] = Domain(id="dom-8", name="msp-one")

    msp_domain_forget(client=fake)

    assert msp_domain(client=fake).id == "dom-8"
    assert fake.calls == ["list", "list"]


def test_an_account_without_a_domain_says_how_to_create_one(fake):
    with pytest.raises(DomainMissing, match="lucidlink_domain --create NAME"):
        msp_domain(client=fake)

    # Nothing was cached: once staff create the domain it is found straight away.
    fake.domains.append(Domain(id="dom-1", name="msp-one"))
    assert msp_domain(client=fake).id == "dom-1"


def test_an_account_listing_two_domains_is_an_error_not_a_guess(fake):
    fake.domains += [Domain(id="dom-1", name="one"), Domain(id="dom-2", name="two")]

    with pytest.raises(DomainAmbiguous, match="one, two"):
        msp_domain(client=fake)


def test_a_broken_cache_falls_back_to_the_api(fake, monkeypatch):
    fake.domains.append(Domain(id="dom-7", name="msp-one"))

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)

    assert msp_domain(client=fake).id == "dom-7"
    assert msp_domain(client=fake).id == "dom-7"
    assert fake.calls == ["list", "list"]


def test_an_api_failure_propagates_typed(fake):
    fake.failure = lucidlink.Unavailable("down", retry_after=3)

    with pytest.raises(lucidlink.Unavailable):
        msp_domain(client=fake)


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 61, "Acme", "acme_media", "acme media", "", "acme\n", "acme.io", None, 42],
)
def test_an_invalid_domain_name_is_refused_before_any_call(fake, name):
    with pytest.raises(InvalidDomainName, match="3 to 60 lowercase"):
        domain_create(name=name, client=fake)

    assert fake.calls == []


@pytest.mark.parametrize("name", ["abc", "msp-media-01", "a" * 60, "---"])
def test_a_valid_domain_is_created_and_becomes_the_cached_domain(fake, name):
    created = domain_create(name=name, client=fake)

    assert created.name == name
    assert msp_domain(client=fake) == created
    assert fake.calls == [f"create {name}"]


# The management command, against the fake seam (the simulator tests are in
# test_domain_lucidsim.py).


def test_the_command_prints_the_domain(fake, capsys):
    fake.domains.append(Domain(id="dom-7", name="msp-one"))

    call_command("lucidlink_domain")

    assert "LucidLink domain: msp-one (id dom-7)" in capsys.readouterr().out


def test_the_command_creates_the_domain(fake, capsys):
    call_command("lucidlink_domain", "--create", "msp-one")

    assert "Created LucidLink domain msp-one (id dom-1)." in capsys.readouterr().out
    assert fake.domains == [Domain(id="dom-1", name="msp-one")]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (lucidlink.Conflict("Account already has a domain.", status=409), "already has a domain"),
        (lucidlink.Rejected("Invalid domain name.", status=400), "Invalid domain name."),
        (lucidlink.Unavailable("LucidLink answered 503"), "try again later"),
        (lucidlink.AuthenticationFailed("refused (invalid_client)", status=401), "invalid_client"),
    ],
)
def test_the_command_turns_api_errors_into_a_clear_message(fake, failure, expected):
    fake.failure = failure

    with pytest.raises(CommandError, match=expected):
        call_command("lucidlink_domain", "--create", "msp-one")


def test_the_command_refuses_an_invalid_name_without_calling(fake):
    with pytest.raises(CommandError, match="not a valid domain name"):
        call_command("lucidlink_domain", "--create", "Not Valid")

    assert fake.calls == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_exits_non_zero_without_a_traceback_when_lucidlink_is_down():
    port = free_port()  # Nothing listens there once the socket is closed.
    env = {
        **os.environ,
        "DEBUG": "true",
        "LUCIDLINK_API_URL": f"http://127.0.0.1:{port}/api/v1",
        "LUCIDLINK_TOKEN_URL": f"http://127.0.0.1:{port}/oauth2/token",
        "LUCIDLINK_CLIENT_ID": f"cli-{uuid.uuid4().hex[:8]}",
    }

    done = subprocess.run(
        [sys.executable, "manage.py", "lucidlink_domain"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode != 0
    assert "LucidLink is unavailable" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_cache_key_hides_the_url_and_client_id():
    client = FakeClient(api_url="https://api.lucidlink.com/api/v1")

    key = domains._cache_key(client)

    assert "lucidlink.com" not in key
    assert key.startswith("lucidlink:msp-domain:")
