"""Signatures: HMAC-SHA256 over "<timestamp>.<body>", with a replay window."""

import time

from hypothesis import given
from hypothesis import strategies as st

from portal.webhooks import signing

SECRET = "whsec_test"


def test_a_signature_verifies_for_the_same_secret_and_body():
    now = int(time.time())
    header = signing.sign(secret=SECRET, body=b'{"a":1}', timestamp=now)
    assert header.startswith(f"t={now},v1=")
    assert signing.verify(secret=SECRET, body=b'{"a":1}', header=header)


def test_a_changed_body_or_another_secret_fails():
    now = int(time.time())
    header = signing.sign(secret=SECRET, body=b'{"a":1}', timestamp=now)
    assert not signing.verify(secret=SECRET, body=b'{"a":2}', header=header)
    assert not signing.verify(secret="whsec_other", body=b'{"a":1}', header=header)


def test_an_old_timestamp_is_refused_as_a_replay():
    old = int(time.time()) - signing.REPLAY_WINDOW_SECONDS - 5
    header = signing.sign(secret=SECRET, body=b"{}", timestamp=old)
    assert not signing.verify(secret=SECRET, body=b"{}", header=header)
    assert signing.verify(secret=SECRET, body=b"{}", header=header, now=old + 10)


@given(st.text(max_size=200))
def test_garbage_headers_never_verify_and_never_raise(header):
    assert signing.verify(secret=SECRET, body=b"{}", header=header) is False


@given(st.binary(max_size=500), st.integers(min_value=0, max_value=2**40))
def test_any_body_round_trips(body, timestamp):
    header = signing.sign(secret=SECRET, body=body, timestamp=timestamp)
    assert signing.verify(secret=SECRET, body=body, header=header, now=timestamp)


def test_a_timestamp_from_beyond_the_window_in_the_future_is_refused():
    now = 1_800_000_000
    window = signing.REPLAY_WINDOW_SECONDS
    future = signing.sign(secret=SECRET, body=b"{}", timestamp=now + window + 1)
    edge = signing.sign(secret=SECRET, body=b"{}", timestamp=now + window)
    assert not signing.verify(secret=SECRET, body=b"{}", header=future, now=now)
    assert signing.verify(secret=SECRET, body=b"{}", header=edge, now=now)
