import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase-42"


def _signup(client, email="new.person@example.com", password=PASSWORD):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": password, "password2": password},
    )


def _confirmation_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", message.body).group(1)


def test_signup_sends_a_verification_email_and_does_not_log_in(client):
    response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1
    assert "confirm-email" in mail.outbox[0].body
    assert client.get(reverse("dashboard")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_following_the_email_link_logs_in_and_leads_to_onboarding(client):
    _signup(client)
    link = _confirmation_link(mail.outbox[0])
    client.get(link)
    response = client.post(link)
    assert response.status_code == 302
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 302
    assert dashboard["Location"] == reverse("customers:onboarding")


def test_login_before_verifying_the_email_is_refused(client):
    _signup(client)
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "new.person@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw-1", b"at least 12 characters"),
        ("password1234", b"too common"),
        ("123456789012345", b"entirely numeric"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_message(client, password, message):
    response = _signup(client, password=password)
    assert response.status_code == 200
    assert message in response.content
    assert not get_user_model().objects.exists()


def test_a_verified_user_logs_in_with_email_and_password(client, user_factory):
    user = user_factory("someone@example.com")
    response = client.post(
        reverse("account_login"),
        {"login": "someone@example.com", "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_repeated_failed_logins_are_refused_even_with_the_right_password(client, user_factory):
    user_factory("target@example.com")
    url = reverse("account_login")
    for _ in range(5):
        client.post(url, {"login": "target@example.com", "password": "wrong-guess-123"})
    response = client.post(
        url, {"login": "target@example.com", "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link_that_sets_a_new_password(client, user_factory):
    user_factory("forgetful@example.com")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    assert len(mail.outbox) == 1
    path = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/[^\s]+)", mail.outbox[0].body)
    response = client.get(path.group(1), follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else path.group(1)
    new = "a-brand-new-passphrase-77"
    done = client.post(form_path, {"password1": new, "password2": new})
    assert done.status_code == 302
    assert get_user_model().objects.get(email="forgetful@example.com").check_password(new)


def test_the_signup_page_has_labelled_fields_in_the_portal_layout(client):
    body = client.get(reverse("account_signup")).content.decode()
    assert 'class="site-header"' in body
    for field in ("id_email", "id_password1", "id_password2"):
        assert f'for="{field}"' in body


def test_account_emails_speak_as_the_msp_from_the_portal_address(client, settings):
    settings.MSP_NAME = "Contoso Cloud"
    settings.PORTAL_BASE_URL = "https://files.contoso.example"
    _signup(client)
    body = mail.outbox[0].body
    assert "Hello from Contoso Cloud!" in body
    assert "register an account on files.contoso.example" in body
    assert "Thank you for using Contoso Cloud!" in body
    assert "Hello from testserver" not in body
