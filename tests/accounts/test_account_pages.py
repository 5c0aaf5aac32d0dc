import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.urls import reverse

pytestmark = pytest.mark.django_db

ANONYMOUS = [
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_reset_password_done",
]
SIGNED_IN = ["account_email", "account_change_password", "account_logout", "mfa_index"]


def _assert_portal_page(body: str) -> None:
    assert 'class="site-header"' in body
    assert "<h1" in body
    # Every visible input has a label pointing at it.
    for input_id in re.findall(r'<input[^>]*type="(?:text|email|password)"[^>]*id="([^"]+)"', body):
        assert f'for="{input_id}"' in body, input_id


@pytest.mark.parametrize("name", ANONYMOUS)
def test_anonymous_account_pages_use_the_portal_layout_with_labels(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    _assert_portal_page(response.content.decode())


@pytest.mark.parametrize("name", SIGNED_IN)
def test_signed_in_account_pages_use_the_portal_layout_with_labels(client, user_factory, name):
    client.force_login(user_factory())
    response = client.get(reverse(name))
    assert response.status_code == 200
    _assert_portal_page(response.content.decode())


def test_the_mfa_page_offers_totp_and_shows_recovery_codes_once_active(client, user_factory):
    user = user_factory()
    client.force_login(user)
    assert reverse("mfa_activate_totp") in client.get(reverse("mfa_index")).content.decode()
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(user)
    body = client.get(reverse("mfa_index")).content.decode()
    assert reverse("mfa_deactivate_totp") in body
    assert "Recovery" in body


def test_an_email_change_needs_the_new_address_verified(client, user_factory, mailoutbox):
    user = user_factory("old@example.com")
    client.force_login(user)
    client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"})
    assert any("new@example.com" in message.to for message in mailoutbox)
    user.refresh_from_db()
    assert user.email == "old@example.com"  # unchanged until the new address is confirmed
