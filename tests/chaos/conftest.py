"""Fixtures of the fault suite: lucidsim, real workers, and the portal pointed at them."""

import pytest

from provisioning import lucidlink
from tests.provisioning.test_real_worker import place, sim  # noqa: F401 (fixtures)
from tests.provisioning.test_real_worker import worker_env as _base_env

pytestmark = pytest.mark.worker


@pytest.fixture
def portal(sim, settings):  # noqa: F811
    """The test process talks to the same lucidsim as the workers (for the invariant checks)."""
    settings.LUCIDLINK_API_URL = sim.api_url
    settings.LUCIDLINK_TOKEN_URL = sim.token_url
    settings.LUCIDLINK_CLIENT_ID = sim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = sim.client_secret
    lucidlink.forget_tokens()
    yield sim
    lucidlink.forget_tokens()


def worker_env(sim, **extra: str) -> dict[str, str]:  # noqa: F811
    """Fast intervals so every scenario settles within its window (RECOVERY_WINDOW)."""
    env = _base_env(sim, LUCIDLINK_READ_TIMEOUT="3", PROVISIONING_RECONCILE_GRACE="2")
    env.update(extra)
    return env
