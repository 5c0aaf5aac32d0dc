"""Construction, transport safety, Retry-After parsing and log redaction of the LucidLink client."""

import json
import logging
import os
import pickle
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from portal.observability.logs import ContextFilter, JsonFormatter, PlainFormatter
from provisioning import lucidlink
from provisioning.lucidlink import LucidLinkClient, parse_retry_after
from provisioning.lucidlink.redaction import redact

INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"


def build(api_url, token_url):
    return LucidLinkClient(
        api_url=api_url, token_url=token_url, client_id="msp", client_secret="hidden-value"
    )


# Transport


def test_https_clients_leave_insecure_transport_off(monkeypatch):
    monkeypatch.delenv(INSECURE, raising=False)

    build("https://api.lucidlink.com/api/v1", "https://auth.lucidlink.com/oauth2/token")

    assert INSECURE not in os.environ


@pytest.mark.parametrize(
    ("api_url", "token_url"),
    [
        ("http://127.0.0.1:8001/api/v1", "http://127.0.0.1:8001/oauth2/token"),
        ("http://localhost:9/api/v1", "http://[::1]:9/oauth2/token"),
    ],
)
def test_loopback_http_turns_on_insecure_transport_for_the_simulator(
    monkeypatch, api_url, token_url
):
    monkeypatch.delenv(INSECURE, raising=False)

    build(api_url, token_url)

    assert os.environ[INSECURE] == "1"


@pytest.mark.parametrize(
    ("api_url", "token_url"),
    [
        ("http://api.lucidlink.com/api/v1", "https://auth.lucidlink.com/oauth2/token"),
        ("https://api.lucidlink.com/api/v1", "http://auth.lucidlink.com/oauth2/token"),
        ("http://127.0.0.1:8001/api/v1", "https://auth.lucidlink.com/oauth2/token"),
        ("http://10.0.0.5/api/v1", "http://10.0.0.5/oauth2/token"),
        ("http://127.0.0.1.evil.test/api/v1", "http://127.0.0.1.evil.test/oauth2/token"),
        ("ftp://api.lucidlink.com/api/v1", "https://auth.lucidlink.com/oauth2/token"),
    ],
)
def test_plain_http_beyond_loopback_is_refused_and_changes_nothing(monkeypatch, api_url, token_url):
    monkeypatch.delenv(INSECURE, raising=False)

    with pytest.raises(ValueError, match="https"):
        build(api_url, token_url)

    assert INSECURE not in os.environ


def test_get_client_is_built_from_settings(settings):
    settings.LUCIDLINK_API_URL = "https://api.lucidlink.com/api/v1/"
    settings.LUCIDLINK_TOKEN_URL = "https://auth.lucidlink.com/oauth2/token"
    settings.LUCIDLINK_CLIENT_ID = "msp-from-settings"
    settings.LUCIDLINK_CONNECT_TIMEOUT = 4
    settings.LUCIDLINK_READ_TIMEOUT = 11

    client = lucidlink.get_client()

    assert client.api_url == "https://api.lucidlink.com/api/v1"
    assert client.client_id == "msp-from-settings"
    assert client._timeout == (4, 11)


def test_get_client_explains_an_unsafe_url_as_a_configuration_error(settings):
    settings.LUCIDLINK_API_URL = "http://api.lucidlink.com/api/v1"

    with pytest.raises(ImproperlyConfigured, match="loopback"):
        lucidlink.get_client()


def test_get_client_needs_credentials(settings):
    settings.LUCIDLINK_CLIENT_SECRET = ""

    with pytest.raises(ImproperlyConfigured, match="LUCIDLINK_CLIENT_SECRET"):
        lucidlink.get_client()


# Retry-After


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_in_whole_seconds_is_read_exactly(seconds):
    assert parse_retry_after(str(seconds)) == seconds


@given(st.text())
def test_retry_after_is_never_negative_infinite_or_an_exception(text):
    result = parse_retry_after(text)

    assert result is None or (0 <= result < float("inf"))


def test_retry_after_as_an_http_date_counts_from_now():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    future = format_datetime(now + timedelta(seconds=90), usegmt=True)
    past = format_datetime(now - timedelta(hours=1), usegmt=True)

    assert parse_retry_after(future, now=now) == 90
    assert parse_retry_after(past, now=now) == 0


@pytest.mark.parametrize("text", [None, "", "  ", "nan", "inf", "1e999", "next week"])
def test_unreadable_retry_after_is_ignored(text):
    assert parse_retry_after(text) is None


# Redaction


REDACTION_CASES = [
    ("Obtained token {'access_token': 'tok-abc', 'token_type': 'Bearer'}.", "tok-abc"),
    ('content {"access_token":"tok-def","expires_in":3600}.', "tok-def"),
    ("Request body was grant_type=client_credentials&client_secret=pw-123", "pw-123"),
    ("headers {'Authorization': 'Basic bXNwOnB3LTEyMw=='}", "bXNwOnB3LTEyMw=="),
    ("headers {'Authorization': 'Bearer tok-xyz'}", "tok-xyz"),
    ("sent Bearer tok-loose-123 to the API", "tok-loose-123"),
]


@pytest.mark.parametrize(("text", "secret"), REDACTION_CASES)
def test_redaction_masks_tokens_secrets_and_authorization_headers(text, secret):
    masked = redact(text)

    assert secret not in masked
    assert "[redacted]" in masked


@pytest.mark.parametrize(("text", "secret"), REDACTION_CASES)
def test_json_log_lines_mask_the_same_secrets_in_message_and_traceback(text, secret):
    record = logging.LogRecord("any.logger", logging.WARNING, __file__, 1, "%s", (text,), None)
    try:
        raise RuntimeError(text)
    except RuntimeError:
        record.exc_info = sys.exc_info()
    ContextFilter().filter(record)
    line = JsonFormatter().format(record)

    assert "\n" not in line  # one record, one line
    entry = json.loads(line)
    assert secret not in line
    assert "[redacted]" in entry["message"] and "[redacted]" in entry["exception"]
    assert entry["level"] == "WARNING" and entry["logger"] == "any.logger"


@pytest.mark.parametrize(("text", "secret"), REDACTION_CASES)
def test_plain_log_lines_mask_the_same_secrets(text, secret):
    record = logging.LogRecord("any.logger", logging.INFO, __file__, 1, text, None, None)
    ContextFilter().filter(record)
    line = PlainFormatter("%(levelname)s %(name)s: %(message)s").format(record)

    assert secret not in line and "[redacted]" in line


def test_redaction_leaves_ordinary_messages_alone():
    text = "Requesting url https://api.lucidlink.com/api/v1/filespaces using method GET."

    assert redact(text) == text


# Errors


@pytest.mark.parametrize(
    "error",
    [
        lucidlink.Unavailable("down", retry_after=4.5, status=503),
        lucidlink.MalformedResponse("garbage", status=200),
        lucidlink.Conflict("Filespace name already exists.", status=409),
        lucidlink.AuthenticationFailed("refused", status=401),
    ],
)
def test_errors_survive_pickling_with_their_fields(error):
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)
