import pytest
from allauth.mfa.totp.internal.auth import TOTP

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Pages tests create up to a hundred users; Argon2 would make each cost half a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_factory(user_factory):
    """A staff user with TOTP set up (so StaffMFAMiddleware lets them through)."""

    def make(email: str | None = None, *, mfa: bool = True, **overrides):
        user = user_factory(email, is_staff=True, **overrides)
        if mfa:
            TOTP.activate(user, SECRET)
        return user

    return make


@pytest.fixture
def staff_user(staff_factory):
    return staff_factory("alice@msp.example")


@pytest.fixture
def second_staff(staff_factory):
    return staff_factory("bob@msp.example")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def reauthenticated():
    """`reauthenticated(client)`: the signed-in staff member has just re-entered their password,
    as destructive staff actions ask (portal.security.staff)."""

    def reauthenticate(client) -> None:
        response = client.post("/accounts/reauthenticate/", {"password": "correct-horse-battery-9"})
        assert response.status_code == 302, "re-authentication failed"

    return reauthenticate
