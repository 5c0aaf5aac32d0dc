"""Integration: the real client against the LucidLink simulator running as an HTTP server."""

import base64
import logging
import time
import uuid

import pytest

from provisioning import lucidlink
from provisioning.lucidlink import LucidLinkClient
from provisioning.lucidlink import client as client_module


@pytest.fixture
def client(lucidsim):
    lucidlink.forget_tokens()
    yield LucidLinkClient(
        api_url=lucidsim.api_url,
        token_url=lucidsim.token_url,
        client_id=lucidsim.client_id,
        client_secret=lucidsim.client_secret,
        connect_timeout=2,
        read_timeout=1,
    )
    lucidlink.forget_tokens()


@pytest.fixture
def domain(client):
    existing = client.list_domains()
    return existing[0] if existing else client.create_domain(f"msp-{uuid.uuid4().hex[:8]}")


def create(client, domain, name="media", **overrides):
    options = {
        "domain_id": domain.id,
        "name": name,
        "subscription_type": "teams",
        "owner": "lucidlink",
        "provider": "IBM",
        "region": "us-east",
    }
    options.update(overrides)
    return client.create_filespace(**options)


def issued_tokens() -> list[str]:
    return [token["access_token"] for token in client_module._TOKENS.values()]


def test_a_filespace_goes_through_create_find_get_and_delete(lucidsim, client, domain):
    created = create(client, domain)

    assert created.status == "provisioning"
    assert created.domain_id == domain.id
    assert created.storage.provider == "IBM"
    assert client.find_filespace(f"media.{domain.name}").id == created.id
    assert client.get_filespace(created.id).name == "media"
    assert [fs.id for fs in client.list_filespaces()] == [created.id]
    assert client.find_filespace(f"other.{domain.name}") is None

    client.delete_filespace(created.id)

    with pytest.raises(lucidlink.NotFound):
        client.get_filespace(created.id)
    with pytest.raises(lucidlink.NotFound):
        client.delete_filespace(created.id)
    assert lucidsim.count("createFilespace") == 1


def test_one_token_fetched_by_http_basic_serves_every_call(lucidsim, client, domain):
    client.list_filespaces()
    client.list_domains()
    client.get_domain(domain.id)

    assert lucidsim.count("token") == 1
    token_calls = [call for call in lucidsim.ledger()["calls"] if call["operation"] == "token"]
    # The simulator names the client only when the Basic credentials were right.
    assert token_calls[0]["client_id"] == lucidsim.client_id
    assert token_calls[0]["status"] == 200


def test_expired_tokens_are_replaced_once_and_the_call_succeeds(lucidsim, client, domain):
    client.list_filespaces()
    lucidsim.expire_tokens()

    assert client.list_filespaces() == []
    assert lucidsim.count("token") == 2
    assert lucidsim.count("getFilespaces") == 3  # ok, refused (401), ok


def test_a_token_past_its_lifetime_is_replaced_before_it_is_sent(lucidsim, client):
    lucidsim.set_token_ttl(1)
    client.list_filespaces()
    time.sleep(1.1)

    assert client.list_filespaces() == []
    assert lucidsim.count("token") == 2
    assert lucidsim.count("getFilespaces") == 2  # no 401: the client knew the token was stale


def test_revoked_tokens_are_replaced_once_and_the_call_succeeds(lucidsim, client, domain):
    client.get_domain(domain.id)
    lucidsim.revoke_tokens()

    assert client.get_domain(domain.id) == domain
    assert lucidsim.count("token") == 2


def test_an_api_that_keeps_answering_401_ends_in_authentication_failed(lucidsim, client, domain):
    client.list_filespaces()
    lucidsim.add_fault(operation="getFilespaces", status=401, times=5)

    with pytest.raises(lucidlink.AuthenticationFailed) as caught:
        client.list_filespaces()

    assert caught.value.status == 401
    assert lucidsim.count("token") == 2
    assert lucidsim.count("getFilespaces") == 3


def test_a_wrong_client_secret_is_authentication_failed(lucidsim):
    lucidlink.forget_tokens()
    wrong = LucidLinkClient(
        api_url=lucidsim.api_url,
        token_url=lucidsim.token_url,
        client_id=lucidsim.client_id,
        client_secret="not-the-secret",
    )

    with pytest.raises(lucidlink.AuthenticationFailed, match="invalid_client"):
        wrong.list_domains()

    assert lucidsim.count("getDomains") == 0


def test_a_429_carries_the_retry_after_the_server_sent(lucidsim, client):
    lucidsim.add_fault(operation="getDomains", status=429, retry_after=7)

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_domains()

    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_unavailable(lucidsim, client, status):
    lucidsim.add_fault(operation="getFilespaces", status=status)

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_filespaces()

    assert caught.value.status == status
    assert client.list_filespaces() == []  # The fault fired once; the next call is answered.


def test_an_answer_slower_than_the_read_timeout_is_unavailable(lucidsim, client):
    lucidsim.add_fault(operation="getDomains", delay_seconds=2.5)
    started = time.monotonic()

    with pytest.raises(lucidlink.Unavailable, match="timed out"):
        client.list_domains()

    assert time.monotonic() - started < 2.4


def test_a_slow_token_endpoint_is_unavailable(lucidsim, client):
    lucidsim.add_fault(operation="token", delay_seconds=2.5)

    with pytest.raises(lucidlink.Unavailable, match="timed out"):
        client.list_domains()


@pytest.mark.parametrize("body", ["{not json", '{"id": 7}', "[]"])
def test_an_unreadable_answer_is_a_malformed_response(lucidsim, client, domain, body):
    created = create(client, domain)
    lucidsim.add_fault(operation="getFilespace", status=200, body=body)

    with pytest.raises(lucidlink.MalformedResponse):
        client.get_filespace(created.id)


def test_a_taken_filespace_name_is_a_conflict_with_the_api_message(lucidsim, client, domain):
    create(client, domain)

    with pytest.raises(lucidlink.Conflict) as caught:
        create(client, domain)

    assert caught.value.status == 409
    assert caught.value.message == "Filespace name already exists."


def test_a_disabled_region_is_unprocessable_with_the_api_message(lucidsim, client, domain):
    lucidsim.disable_region("IBM", "us-east")

    with pytest.raises(lucidlink.Unprocessable) as caught:
        create(client, domain)

    assert caught.value.status == 422
    assert "disabled in the selected region" in caught.value.message


def test_an_invalid_filespace_is_rejected_with_the_api_message(lucidsim, client, domain):
    with pytest.raises(lucidlink.Rejected) as caught:
        create(client, domain, name="Not_Valid")

    assert type(caught.value) is lucidlink.Rejected
    assert caught.value.status == 400
    assert caught.value.message


def test_an_unknown_filespace_is_not_found(lucidsim, client):
    with pytest.raises(lucidlink.NotFound):
        client.get_filespace(str(uuid.uuid4()))


def test_a_second_domain_for_the_account_is_a_conflict(lucidsim, client, domain):
    with pytest.raises(lucidlink.Conflict) as caught:
        client.create_domain(f"msp-{uuid.uuid4().hex[:8]}")

    assert caught.value.message


def test_the_current_billing_period_parses(lucidsim, client, domain):
    create(client, domain)

    period = client.current_billing_period()

    assert period.end > period.start
    assert isinstance(period.amount_due, int)
    assert all(isinstance(line.amount_due, int) for line in period.filespaces)


def test_no_secret_or_token_leaks_into_logs_errors_or_reprs(lucidsim, client, domain, caplog):
    for name in (None, "requests_oauthlib", "oauthlib", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    tokens = []
    errors = []

    client.list_filespaces()
    tokens += issued_tokens()
    lucidsim.revoke_tokens()
    client.list_filespaces()
    tokens += issued_tokens()
    for fault in ({"status": 503}, {"status": 401, "times": 2}, {"delay_seconds": 2.5}):
        lucidsim.add_fault(operation="getFilespaces", **fault)
        with pytest.raises(lucidlink.LucidLinkError) as caught:
            client.list_filespaces()
        errors.append(caught.value)
        tokens += issued_tokens()

    basic = base64.b64encode(f"{lucidsim.client_id}:{lucidsim.client_secret}".encode()).decode()
    secrets = {lucidsim.client_secret, basic, *tokens}
    assert len(set(tokens)) >= 3
    texts = [record.getMessage() for record in caplog.records]
    texts += [caplog.text, repr(client), str(client)]
    texts += [str(error) for error in errors] + [repr(error) for error in errors]
    assert not [text for text in texts if any(secret in text for secret in secrets)]
