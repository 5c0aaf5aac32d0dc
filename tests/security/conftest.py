import pytest
from allauth.mfa.totp.internal.auth import TOTP

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_factory(user_factory):
    """A staff user with TOTP set up (so StaffMFAMiddleware lets them through)."""

    def make(email: str | None = None, **overrides):
        user = user_factory(email, is_staff=True, **overrides)
        TOTP.activate(user, SECRET)
        return user

    return make


@pytest.fixture
def staff_client(client, staff_factory):
    client.force_login(staff_factory("alice@msp.example"))
    return client


@pytest.fixture
def msp_api(user_factory):
    from rest_framework.test import APIClient

    from portal.apikeys.services import apikey_create

    _key, raw = apikey_create(name="k", created_by=user_factory(is_staff=True, mfa=True))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
