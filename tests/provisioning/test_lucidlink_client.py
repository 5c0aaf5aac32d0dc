"""Unit tests of the LucidLink client through a fake transport (no network, no simulator).

The fake is a requests transport adapter mounted on the client's session, so the real
requests-oauthlib and oauthlib code runs: token fetch, Basic auth, Bearer header, expiry.
"""

import base64
import http
import json
import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from portal.observability.logs import JsonFormatter
from provisioning import lucidlink
from provisioning.lucidlink import LucidLinkClient

API_URL = "https://api.lucid.test/api/v1"
TOKEN_URL = "https://auth.lucid.test/oauth2/token"
CLIENT_ID = "msp-client"
SECRET = "s3cret-Client-Value-42"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()

FILESPACE = {
    "id": "fs-1",
    "domain": "dom-1",
    "name": "acme-media",
    "status": "provisioning",
    "subscriptionType": "custom",
    "version": 3,
    "usersCount": 2,
    "storage": {
        "owner": "customer",
        "provider": "Other",
        "region": "eu-1",
        "endpoint": "https://s3.example.net:443",
        "bucket": "acme-media-bucket",
    },
    "stats": {
        "usedStorage": 1024,
        "filespaceSize": 900,
        "getRequestCount": 5,
        "getDataSize": 4096,
        "putRequestCount": 3,
        "putDataSize": 2048,
        "listRequestCount": 1,
        "deleteRequestCount": 0,
    },
}


class FakeLucidLink(BaseAdapter):
    """Answers token requests with fresh tokens and API requests from a script, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, dict]] = []
        self.api: deque = deque()
        self.tokens: deque = deque()
        self.issued: list[str] = []
        self.token_lifetime = 3600

    def answer(self, status=200, body=None, *, text=None, headers=None) -> None:
        self.api.append((status, body, text, headers))

    def answer_token(self, status=200, body=None, *, text=None, headers=None) -> None:
        self.tokens.append((status, body, text, headers))

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        is_token = request.url.startswith(TOKEN_URL)
        queue = self.tokens if is_token else self.api
        if is_token and not queue:
            token = f"tok-{len(self.issued) + 1}-Zq9"
            self.issued.append(token)
            body = {"access_token": token, "token_type": "Bearer"}
            body["expires_in"] = self.token_lifetime
            return self._response(request, 200, body, None, None)
        assert queue, f"unexpected request {request.method} {request.url}"
        item = queue.popleft()
        if isinstance(item, Exception):
            raise item
        return self._response(request, *item)

    def _response(self, request, status, body, text, headers):
        response = requests.Response()
        response.status_code = status
        response.reason = http.HTTPStatus(status).phrase
        response.headers = CaseInsensitiveDict(headers or {})
        if text is not None:
            response._content = text.encode()
        elif body is not None:
            response._content = json.dumps(body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        else:
            response._content = b""
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    def api_requests(self):
        return [request for request, _ in self.sent if not request.url.startswith(TOKEN_URL)]

    def token_requests(self):
        return [request for request, _ in self.sent if request.url.startswith(TOKEN_URL)]


@pytest.fixture
def fake():
    lucidlink.forget_tokens()
    yield FakeLucidLink()
    lucidlink.forget_tokens()


def make_client(fake, **overrides):
    options = {
        "api_url": API_URL,
        "token_url": TOKEN_URL,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "connect_timeout": 3,
        "read_timeout": 7,
    }
    options.update(overrides)
    client = LucidLinkClient(**options)
    client._session.mount("https://", fake)
    return client


@pytest.fixture
def client(fake):
    return make_client(fake)


# Authentication


def test_the_token_is_fetched_with_http_basic_and_sent_as_bearer(fake, client):
    fake.answer(200, [{"id": "dom-1", "name": "acme"}])

    assert client.list_domains() == [lucidlink.Domain(id="dom-1", name="acme")]

    token_request, api_request = fake.sent[0][0], fake.sent[1][0]
    assert token_request.method == "POST"
    assert token_request.headers["Authorization"] == f"Basic {BASIC}"
    form = parse_qs(token_request.body)
    assert form == {"grant_type": ["client_credentials"]}
    assert api_request.headers["Authorization"] == f"Bearer {fake.issued[0]}"
    assert api_request.url == f"{API_URL}/domains"


def test_every_request_including_the_token_fetch_has_connect_and_read_timeouts(fake, client):
    fake.answer(200, [])
    fake.answer(200, [])

    client.list_domains()
    client.list_filespaces()

    assert len(fake.sent) == 3
    assert [kwargs["timeout"] for _, kwargs in fake.sent] == [(3, 7)] * 3


def test_one_token_serves_many_calls_and_clients_of_the_same_account(fake, client):
    for _ in range(3):
        fake.answer(200, [])
    other = make_client(fake)

    client.list_domains()
    client.list_domains()
    other.list_filespaces()

    assert len(fake.token_requests()) == 1
    assert {r.headers["Authorization"] for r in fake.api_requests()} == {f"Bearer {fake.issued[0]}"}


def test_an_expired_token_is_replaced_before_the_next_call(fake, client):
    fake.token_lifetime = 60
    fake.answer(200, [])
    fake.answer(200, [])
    client.list_domains()

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5), tick=False):
        client.list_domains()

    assert len(fake.issued) == 2
    assert fake.api_requests()[1].headers["Authorization"] == f"Bearer {fake.issued[1]}"


def test_a_401_fetches_one_new_token_and_sends_the_call_again(fake, client):
    fake.answer(401, {"status": 401, "message": "Illegal request"})
    fake.answer(200, [{"id": "dom-1", "name": "acme"}])

    assert [domain.id for domain in client.list_domains()] == ["dom-1"]

    assert len(fake.issued) == 2
    assert fake.api_requests()[1].headers["Authorization"] == f"Bearer {fake.issued[1]}"


def test_a_second_401_gives_up_with_authentication_failed(fake, client):
    fake.answer(401, {"status": 401, "message": "Illegal request"})
    fake.answer(401, {"status": 401, "message": "Illegal request"})

    with pytest.raises(lucidlink.AuthenticationFailed) as caught:
        client.list_domains()

    assert caught.value.status == 401
    assert isinstance(caught.value, lucidlink.Rejected)
    assert "Illegal request" in caught.value.message
    assert len(fake.api_requests()) == 2
    assert len(fake.token_requests()) == 2


def test_refused_credentials_raise_authentication_failed_and_call_nothing(fake, client):
    fake.answer_token(401, {"error": "invalid_client", "error_description": "bad secret"})

    with pytest.raises(lucidlink.AuthenticationFailed) as caught:
        client.list_domains()

    assert "invalid_client" in caught.value.message
    assert fake.api_requests() == []


def test_a_token_endpoint_outage_is_unavailable_with_its_retry_after(fake, client):
    fake.answer_token(503, {"error": "temporarily_unavailable"}, headers={"Retry-After": "12"})

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_domains()

    assert not isinstance(caught.value, lucidlink.MalformedResponse)
    assert caught.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"token_type": "Bearer"}, None),
        ({"access_token": "", "token_type": "Bearer"}, None),
        ({"access_token": "abc", "token_type": "mac"}, None),
        (None, "<html>login</html>"),
        ([1, 2], None),
    ],
)
def test_an_unusable_token_answer_is_a_malformed_response(fake, client, body, text):
    fake.answer_token(200, body, text=text)

    with pytest.raises(lucidlink.MalformedResponse):
        client.list_domains()

    assert fake.api_requests() == []


def test_a_token_endpoint_timeout_is_unavailable(fake, client):
    fake.tokens.append(requests.ConnectTimeout("connect timed out"))

    with pytest.raises(lucidlink.Unavailable, match="timed out"):
        client.list_domains()


# Errors from the API


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), (None, None), ("soon", None), ("-4", 0.0)],
)
def test_a_429_is_unavailable_with_retry_after_in_seconds(fake, client, header, expected):
    headers = {"Retry-After": header} if header is not None else {}
    fake.answer(429, {"status": 429, "message": "Too many requests"}, headers=headers)

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_filespaces()

    assert caught.value.status == 429
    assert caught.value.retry_after == expected
    assert "Too many requests" in caught.value.message


def test_a_429_retry_after_given_as_an_http_date_becomes_seconds(fake, client):
    when = datetime.now(UTC) + timedelta(seconds=120)
    fake.answer(
        429,
        {"status": 429, "message": "slow down"},
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_filespaces()

    assert 100 < caught.value.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_unavailable(fake, client, status):
    fake.answer(status, {"status": status, "message": "Internal error"})

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.get_filespace("fs-1")

    assert caught.value.status == status
    assert not isinstance(caught.value, lucidlink.MalformedResponse)


@pytest.mark.parametrize(
    "failure",
    [requests.ReadTimeout("read timed out"), requests.ConnectionError("refused")],
)
def test_a_timeout_or_refused_connection_is_unavailable(fake, client, failure):
    fake.api.append(failure)

    with pytest.raises(lucidlink.Unavailable) as caught:
        client.get_filespace("fs-1")

    assert "GET /filespaces/fs-1" in caught.value.message


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, lucidlink.Rejected),
        (403, lucidlink.Rejected),
        (404, lucidlink.NotFound),
        (409, lucidlink.Conflict),
        (422, lucidlink.Unprocessable),
    ],
)
def test_a_client_error_is_a_typed_rejection_carrying_the_api_message(fake, client, status, error):
    message = f"Message number {status} from the API."
    fake.answer(status, {"status": status, "message": message})

    with pytest.raises(lucidlink.Rejected) as caught:
        client.create_filespace(
            domain_id="dom-1",
            name="acme",
            subscription_type="teams",
            owner="lucidlink",
            provider="IBM",
            region="us-east",
        )

    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.message == message
    assert str(caught.value) == message
    assert len(fake.api_requests()) == 1


def test_an_error_without_a_json_body_still_has_a_message(fake, client):
    fake.answer(404, text="<h1>nope</h1>")

    with pytest.raises(lucidlink.NotFound) as caught:
        client.get_domain("dom-9")

    assert caught.value.message == "HTTP 404 Not Found"


def test_a_redirect_is_not_followed(fake, client):
    fake.answer(302, headers={"Location": "https://elsewhere.test/"})

    with pytest.raises(lucidlink.MalformedResponse):
        client.list_domains()

    assert len(fake.api_requests()) == 1


# Parsing at the edge


def with_stats(**changes):
    body = json.loads(json.dumps(FILESPACE))
    body["stats"].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (None, "{not json"),
        (None, "<html>gateway</html>"),
        ([FILESPACE], None),
        ({key: value for key, value in FILESPACE.items() if key != "name"}, None),
        ({key: value for key, value in FILESPACE.items() if key != "storage"}, None),
        ({**FILESPACE, "name": 7}, None),
        ({**FILESPACE, "storage": "AWS"}, None),
        (with_stats(usedStorage="1024"), None),
        (with_stats(putDataSize=1.5), None),
        (with_stats(getRequestCount=True), None),
        ({**FILESPACE, "stats": {"usedStorage": 1}}, None),
    ],
)
def test_an_unreadable_answer_is_a_malformed_response(fake, client, body, text):
    fake.answer(200, body, text=text)

    with pytest.raises(lucidlink.MalformedResponse):
        client.get_filespace("fs-1")


def test_a_filespace_is_parsed_into_dataclasses(fake, client):
    fake.answer(200, with_stats(usedStorage=1024.0))

    filespace = client.get_filespace("fs-1")

    assert filespace.domain_id == "dom-1"
    assert filespace.users_count == 2
    assert filespace.storage == lucidlink.FilespaceStorage(
        owner="customer",
        provider="Other",
        region="eu-1",
        endpoint="https://s3.example.net:443",
        bucket="acme-media-bucket",
    )
    assert filespace.stats.used_storage == 1024
    assert isinstance(filespace.stats.used_storage, int)
    assert filespace.stats.get_data_size == 4096


def test_a_provisioning_filespace_may_have_no_stats_yet(fake, client):
    body = {key: value for key, value in FILESPACE.items() if key not in ("stats", "usersCount")}
    fake.answer(200, body)

    filespace = client.get_filespace("fs-1")

    assert filespace.stats is None
    assert filespace.users_count is None  # unknown, not zero users


def test_an_answer_with_only_the_required_fields_parses_with_every_other_field_unknown(
    fake, client
):
    # The Swagger requires domain, name and storage on a Filespace and provider on its storage.
    fake.answer(200, {"domain": "dom-1", "name": "acme-media", "storage": {"provider": "AWS"}})

    filespace = client.get_filespace("fs-1")

    assert filespace == lucidlink.RemoteFilespace(
        domain_id="dom-1", name="acme-media", storage=lucidlink.FilespaceStorage(provider="AWS")
    )
    assert (filespace.id, filespace.status, filespace.version, filespace.users_count) == (
        None,
        None,
        None,
        None,
    )
    assert filespace.storage.owner is filespace.storage.region is filespace.storage.bucket is None


def test_stats_with_only_the_filespace_size_leave_the_other_figures_unknown(fake, client):
    fake.answer(200, {**FILESPACE, "stats": {"filespaceSize": 10}})

    stats = client.get_filespace("fs-1").stats

    assert stats.filespace_size == 10
    assert stats.used_storage is None
    assert stats.missing("used_storage", "get_data_size") == ["used_storage", "get_data_size"]


def test_create_filespace_sends_the_documented_body(fake, client):
    fake.answer(201, FILESPACE)

    created = client.create_filespace(
        domain_id="dom-1",
        name="acme-media",
        subscription_type="custom",
        owner="customer",
        provider="Other",
        region="eu-1",
        endpoint="https://s3.example.net:443",
        bucket="acme-media-bucket",
    )

    request = fake.api_requests()[0]
    assert (request.method, request.url) == ("POST", f"{API_URL}/filespaces")
    assert json.loads(request.body) == {
        "domain": "dom-1",
        "name": "acme-media",
        "version": 3,
        "subscriptionType": "custom",
        "storage": {
            "owner": "customer",
            "provider": "Other",
            "region": "eu-1",
            "endpoint": "https://s3.example.net:443",
            "bucket": "acme-media-bucket",
        },
    }
    assert created.id == "fs-1"
    assert created.status == "provisioning"


def test_create_filespace_leaves_out_an_endpoint_and_bucket_it_was_not_given(fake, client):
    fake.answer(
        201,
        {**FILESPACE, "storage": {"owner": "lucidlink", "provider": "IBM", "region": "us-east"}},
    )

    client.create_filespace(
        domain_id="dom-1",
        name="acme-media",
        subscription_type="teams",
        owner="lucidlink",
        provider="IBM",
        region="us-east",
        version=4,
    )

    sent = json.loads(fake.api_requests()[0].body)
    assert sent["storage"] == {"owner": "lucidlink", "provider": "IBM", "region": "us-east"}
    assert sent["version"] == 4


def test_find_filespace_asks_by_qualified_name_and_returns_the_match(fake, client):
    fake.answer(200, [FILESPACE])

    found = client.find_filespace("acme-media.acme")

    query = parse_qs(urlsplit(fake.api_requests()[0].url).query)
    assert query == {"qualifiedName": ["acme-media.acme"]}
    assert found.id == "fs-1"


def test_find_filespace_returns_none_when_nothing_has_that_name(fake, client):
    fake.answer(200, [])
    fake.answer(200, [{**FILESPACE, "name": "other"}])

    assert client.find_filespace("acme-media.acme") is None
    # A server that ignored the filter must not make the client adopt another filespace.
    assert client.find_filespace("acme-media.acme") is None


def test_delete_filespace_returns_nothing_on_204_and_raises_not_found_on_404(fake, client):
    fake.answer(204)
    fake.answer(404, {"status": 404, "message": "Filespace not found."})

    assert client.delete_filespace("fs-1") is None
    with pytest.raises(lucidlink.NotFound, match="Filespace not found"):
        client.delete_filespace("fs-1")

    assert [r.method for r in fake.api_requests()] == ["DELETE", "DELETE"]


def test_an_id_is_quoted_into_a_single_path_segment(fake, client):
    fake.answer(200, FILESPACE)

    client.get_filespace("a/../b?c")

    assert fake.api_requests()[0].url == f"{API_URL}/filespaces/a%2F..%2Fb%3Fc"


def test_an_empty_id_is_refused_before_any_request(fake, client):
    with pytest.raises(ValueError, match="filespace_id"):
        client.delete_filespace("")

    assert fake.sent == []


def test_the_billing_period_is_parsed_into_cents_and_dimensions(fake, client):
    fake.answer(
        200,
        {
            "start": 1764547200000,
            "end": 1767225600000,
            "subscriptionStatus": "active",
            "amountDue": 12345,
            "amountDueForecast": 40000.0,
            "currency": "USD",
            "filespaceBreakdown": [
                {
                    "filespace": "fs-1",
                    "name": "acme-media",
                    "amountDue": 12345,
                    "amountDueForecast": 40000,
                    "isDeleted": False,
                    "storageOwner": "lucidlink",
                    "storageProvider": "IBM",
                    "subscriptionType": "teams",
                    "usageByDimension": [
                        {"dimension": "ManagedCapacity", "usage": 2048.5},
                        {"dimension": "FilespaceUsers", "usage": 10},
                    ],
                }
            ],
        },
    )

    period = client.current_billing_period()

    assert period.start == datetime(2025, 12, 1, tzinfo=UTC)
    assert (period.amount_due, period.amount_due_forecast) == (12345, 40000)
    assert period.trial_days is None
    (line,) = period.filespaces
    assert (line.filespace_id, line.name, line.is_deleted) == ("fs-1", "acme-media", False)
    assert str(line.managed_capacity) == "2048.5"
    assert line.filespace_users == 10


def test_a_fractional_amount_of_cents_is_a_malformed_response(fake, client):
    fake.answer(
        200,
        {
            "start": 0,
            "end": 1,
            "subscriptionStatus": "active",
            "amountDue": 10.5,
            "amountDueForecast": 11,
            "currency": "USD",
        },
    )

    with pytest.raises(lucidlink.MalformedResponse, match="amountDue"):
        client.current_billing_period()


# Secrets


def run_a_busy_session(fake, client):
    """Token fetch, a revoked token, an error and a success: every path that logs."""
    fake.answer(401, {"status": 401, "message": "Illegal request"})
    fake.answer(200, [])
    fake.answer(503, {"status": 503, "message": "down"})
    client.list_domains()
    with pytest.raises(lucidlink.Unavailable) as caught:
        client.list_domains()
    return caught.value


def test_no_secret_or_token_reaches_a_log_record_even_at_debug(fake, client, caplog):
    # Settings cap the OAuth loggers at WARNING; turn them up as someone troubleshooting would.
    for name in (None, "requests_oauthlib", "oauthlib", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)

    run_a_busy_session(fake, client)

    leaks = [SECRET, BASIC, *fake.issued]
    assert len(fake.issued) == 2
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if any(secret in m for secret in leaks)]
    assert not any(secret in caplog.text for secret in leaks)
    # The OAuth library did log its token and headers (masked): the filter was exercised.
    oauth = [
        m
        for r, m in zip(caplog.records, messages, strict=True)
        if r.name.startswith("requests_oauthlib")
    ]
    assert any("[redacted]" in m for m in oauth)
    # The production formatter (JSON lines) leaks nothing either, tracebacks included.
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert not [line for line in lines if any(secret in line for secret in leaks)]


def test_no_secret_or_token_appears_in_an_exception_or_a_repr(fake, client):
    error = run_a_busy_session(fake, client)
    fake.answer_token(401, {"error": "invalid_client", "error_description": SECRET})
    lucidlink.forget_tokens()
    with pytest.raises(lucidlink.AuthenticationFailed) as refused:
        client.list_domains()

    texts = [
        repr(client),
        str(client),
        str(error),
        repr(error),
        str(refused.value),
        repr(refused.value),
    ]
    for secret in [SECRET, BASIC, *fake.issued]:
        assert not [text for text in texts if secret in text]
    assert repr(client) == f"<LucidLinkClient api_url='{API_URL}' client_id='{CLIENT_ID}'>"
