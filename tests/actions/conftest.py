import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The matrix makes hundreds of users; Argon2 would make each cost half a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()
