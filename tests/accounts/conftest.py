import os

import pytest

# Accounts tests count rate limits in the cache. With Redis they use their own database
# number, so they neither see nor disturb other suites' keys. Two test runs sharing one Redis
# server must give each its own (ACCOUNTS_REDIS_DB, like E2E_REDIS_DB): each test flushes it.
ACCOUNTS_REDIS_DB = int(os.environ.get("ACCOUNTS_REDIS_DB", "7"))


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    url = os.environ.get("REDIS_URL")
    if url:
        base = url.rsplit("/", 1)[0]
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"{base}/{ACCOUNTS_REDIS_DB}",
            }
        }
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "accounts-tests",
            }
        }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
