import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.urls import reverse

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _current_code(secret: str) -> str:
    """The code of the current 30 s window, waiting out a window about to close."""
    import time

    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_the_admin_login_page_sends_people_to_the_portal_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_staff_without_totp_are_sent_to_set_it_up_before_the_admin(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_with_totp_reach_the_admin(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    TOTP.activate(staff, SECRET)
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_a_customer_without_mfa_is_not_forced_to_set_it_up(client, member_factory):
    member = member_factory()
    client.force_login(member.user)
    assert client.get(reverse("dashboard")).status_code == 200


def test_staff_with_totp_must_enter_the_code_at_login(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(staff, SECRET)
    response = client.post(
        reverse("account_login"),
        {"login": "staff@example.com", "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": _current_code(SECRET)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.get("/admin/").status_code == 200


def test_activating_totp_in_the_portal_creates_an_authenticator(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True)
    login = client.post(
        reverse("account_login"),
        {"login": "staff@example.com", "password": "correct-horse-battery-9", "next": "/admin/"},
    )
    assert login.status_code == 302
    # The admin is out of reach until TOTP is set up.
    assert client.get("/admin/")["Location"] == reverse("mfa_activate_totp")
    # Adding a second factor asks for the password again first.
    reauth = client.get(reverse("mfa_activate_totp"))
    assert reauth["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reauth["Location"], {"password": "correct-horse-battery-9"})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": _current_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()
    assert client.get("/admin/").status_code == 200


def test_staff_land_on_the_staff_console_after_signing_in(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(staff, SECRET)
    client.post(
        reverse("account_login"),
        {"login": "staff@example.com", "password": "correct-horse-battery-9"},
    )
    response = client.post(reverse("mfa_authenticate"), {"code": _current_code(SECRET)})
    assert response["Location"] == reverse("staff:dashboard")
