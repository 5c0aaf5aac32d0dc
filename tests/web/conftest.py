import pytest


@pytest.fixture(autouse=True)
def _no_lucidlink_for_pages(monkeypatch, request):
    """Pages read the MSP domain from LucidLink; tests that do not run lucidsim get a fixed one."""
    if "lucidsim" in request.fixturenames or "real_domain_lookup" in request.fixturenames:
        return
    monkeypatch.setattr("portal.orders.views.domain_name", lambda: "msp-demo")


@pytest.fixture
def real_domain_lookup():
    """Ask for this to keep the order pages' real LucidLink domain lookup."""


@pytest.fixture
def owner(member_factory):
    return member_factory(role="owner")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def isolated_cache(settings):
    """allauth's rate limits counted in a private cache, so runs never see each other's counts."""
    import os

    from django.core.cache import cache

    url = os.environ.get("REDIS_URL")
    if url:
        location = url.rsplit("/", 1)[0] + "/8"
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": location,
            }
        }
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "web",
            }
        }
    cache.clear()
    yield
    cache.clear()
