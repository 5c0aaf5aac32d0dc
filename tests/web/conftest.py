import pytest


@pytest.fixture(autouse=True)
def _no_lucidlink_for_pages(monkeypatch, request):
    """Pages read the MSP domain from LucidLink; tests that do not run lucidsim get a fixed one."""
    if "lucidsim" in request.fixturenames:
        return
    monkeypatch.setattr("portal.orders.views.domain_name", lambda: "msp-demo")


@pytest.fixture
def owner(member_factory):
    return member_factory(role="owner")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client
