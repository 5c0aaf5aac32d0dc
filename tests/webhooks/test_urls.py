"""Webhook URL rules: https in production, loopback only in DEBUG/tests, no private hosts."""

import pytest
from django.core.exceptions import ValidationError

from portal.webhooks.validators import validate_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://192.168.1.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://user:pass@example.com/hooks",
        "ftp://example.com/hooks",
        "https:///nohost",
        "not a url",
        "",
    ],
)
def test_production_refuses_unsafe_urls(url):
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url, allow_loopback=False)
    assert "url" in caught.value.message_dict


def test_production_accepts_a_public_https_ip():
    assert validate_webhook_url("https://93.184.215.14/hooks", allow_loopback=False)


def test_loopback_over_http_is_allowed_only_when_loopback_is_allowed():
    assert validate_webhook_url("http://127.0.0.1:8000/hooks", allow_loopback=True)
    with pytest.raises(ValidationError):
        validate_webhook_url("http://127.0.0.1:8000/hooks", allow_loopback=False)


def test_private_addresses_stay_refused_even_in_debug():
    with pytest.raises(ValidationError):
        validate_webhook_url("http://10.1.2.3/hooks", allow_loopback=True)


def test_the_default_follows_the_loopback_setting(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError):
        validate_webhook_url("http://127.0.0.1/hooks")
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert validate_webhook_url("http://127.0.0.1/hooks")
