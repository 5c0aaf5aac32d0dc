"""Integration: domain discovery and the lucidlink_domain command against the simulator."""

import pytest
from django.core.management import CommandError, call_command

from provisioning import lucidlink
from provisioning.domain import DomainMissing, msp_domain, msp_domain_forget


@pytest.fixture
def sim(lucidsim, settings):
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    lucidlink.forget_tokens()
    msp_domain_forget()  # The simulator was reset: a domain cached earlier is gone.
    yield lucidsim
    msp_domain_forget()
    lucidlink.forget_tokens()


def test_the_command_says_the_account_has_no_domain_yet(sim):
    with pytest.raises(CommandError, match="no domain yet"):
        call_command("lucidlink_domain")


def test_the_command_creates_the_domain_then_prints_it_from_the_cache(sim, capsys):
    call_command("lucidlink_domain", "--create", "msp-demo")
    call_command("lucidlink_domain")

    out = capsys.readouterr().out
    assert "Created LucidLink domain msp-demo" in out
    assert "LucidLink domain: msp-demo (id " in out
    assert sim.count("createDomain") == 1
    assert sim.count("getDomains") == 0


def test_a_second_domain_is_refused_with_a_clear_message(sim):
    call_command("lucidlink_domain", "--create", "msp-demo")

    with pytest.raises(CommandError, match="An account has one domain"):
        call_command("lucidlink_domain", "--create", "msp-other")

    assert sim.count("createDomain") == 2


def test_an_invalid_name_is_refused_before_calling_lucidlink(sim):
    with pytest.raises(CommandError, match="not a valid domain name"):
        call_command("lucidlink_domain", "--create", "MSP")

    assert sim.count("createDomain") == 0


def test_a_domain_created_outside_the_portal_is_found_and_cached(sim):
    made = sim.create_domain("made-by-hand")

    first = msp_domain()
    second = msp_domain()

    assert first == second
    assert (first.id, first.name) == (made["id"], "made-by-hand")
    assert sim.count("getDomains") == 1


def test_no_domain_is_not_cached_so_creating_one_is_seen_at_once(sim):
    with pytest.raises(DomainMissing):
        msp_domain()

    sim.create_domain("late-domain")

    assert msp_domain().name == "late-domain"


def test_each_account_sees_and_caches_only_its_own_domain(sim):
    sim.create_domain("msp-demo")
    other = lucidlink.LucidLinkClient(
        api_url=sim.api_url,
        token_url=sim.token_url,
        client_id="other-account",
        client_secret="other-secret",
    )
    msp_domain_forget(client=other)

    try:
        assert msp_domain().name == "msp-demo"
        assert msp_domain(client=other).name == "other-domain"
        assert msp_domain().name == "msp-demo"
    finally:
        msp_domain_forget(client=other)
