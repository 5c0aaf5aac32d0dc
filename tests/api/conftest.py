import pytest
from rest_framework.test import APIClient


@pytest.fixture
def staff_user(user_factory):
    return user_factory(email="staff@msp.example", is_staff=True, mfa=True)


@pytest.fixture
def api_key_factory(db, member_factory, staff_user):
    """`api_key_factory()` makes an MSP key; `api_key_factory(customer=c)` a customer key.

    Returns (ApiKey, raw key string).
    """
    from portal.apikeys.services import apikey_create

    def make(*, customer=None, name: str = "test key", created_by=None):
        if customer is None:
            return apikey_create(name=name, created_by=created_by or staff_user)
        if created_by is None:
            created_by = member_factory(role="admin", customer=customer).user
        return apikey_create(name=name, created_by=created_by, customer=customer)

    return make


@pytest.fixture
def api_client_for():
    """`api_client_for(raw_key)`: a DRF test client sending `Authorization: Bearer <key>`."""

    def make(raw: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def msp_api(api_key_factory, api_client_for) -> APIClient:
    _key, raw = api_key_factory()
    return api_client_for(raw)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Throttle counts live in the cache; start every test from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
