"""Usage collected by a REAL Celery worker from lucidsim over HTTP, then shown on the page.

Skips, saying why, without Redis and PostgreSQL (tests/fixtures/worker.py).
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import tasks
from billing.models import DailyUsage, UsageSample
from provisioning import lucidlink
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

DAY = 86400


@pytest.fixture
def remote_filespaces(lucidsim):
    lucidlink.forget_tokens()
    domain = lucidsim.create_domain("msp")

    def make(name: str, used: int) -> str:
        storage = {"owner": "lucidlink", "provider": "IBM", "region": "us-east"}
        body = {"domain": domain["id"], "name": name, "subscriptionType": "teams"}
        body["storage"] = storage
        response = lucidsim.api("POST", "/filespaces", body)
        assert response.status_code == 201, response.text
        remote_id = response.json()["id"]
        lucidsim.set_stats(remote_id, usedStorage=used, filespaceSize=used, getDataSize=7 * 10**9)
        return remote_id

    return make


def test_a_real_worker_samples_lucidsim_once_per_slot_and_the_page_shows_it(
    lucidsim, remote_filespaces, celery_worker_factory, member_factory, live_filespace, client,
    settings,
):  # fmt: skip
    # Daily slots keep the test clear of an hour boundary between the two deliveries.
    settings.USAGE_SAMPLE_INTERVAL_SECONDS = DAY
    member = member_factory(role="billing")
    start = timezone.now() - timedelta(days=40)
    big = live_filespace(customer=member.customer, remote_id=remote_filespaces("big", 3 * 10**12),
                         ready=start.strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
    small = live_filespace(customer=member.customer, remote_id=remote_filespaces("small", 10**9),
                           ready=start.strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
    worker = celery_worker_factory(
        env={
            "LUCIDLINK_API_URL": lucidsim.api_url,
            "LUCIDLINK_TOKEN_URL": lucidsim.token_url,
            "LUCIDLINK_CLIENT_ID": lucidsim.client_id,
            "LUCIDLINK_CLIENT_SECRET": lucidsim.client_secret,
            "USAGE_SAMPLE_INTERVAL_SECONDS": str(DAY),
        }
    )
    lucidsim.clear_ledger()

    tasks.collect_usage.delay()
    wait_until(lambda: UsageSample.objects.count() == 2, timeout=60)
    tasks.collect_usage.delay()
    tasks.collect_usage.delay()
    tasks.rollup_usage.delay(days_back=0)
    wait_until(lambda: DailyUsage.objects.count() == 2, timeout=60)
    # Three deliveries received and three succeeded (the whole log: log() keeps only its tail).
    wait_until(lambda: worker.log_path.read_text().count("collect_usage") >= 6, timeout=60)

    assert UsageSample.objects.count() == 2
    # lucidsim grows its stats with time, so the values are close to, not equal to, what was set.
    assert UsageSample.objects.get(filespace=big).used_storage == pytest.approx(3e12, rel=1e-3)
    assert UsageSample.objects.get(filespace=small).get_data_size >= 7 * 10**9
    # One list call per run, never one call per filespace.
    assert lucidsim.count("getFilespace") == 0
    client.force_login(member.user)
    body = client.get(reverse("billing:usage")).content.decode()
    assert big.qualified_name in body and small.qualified_name in body
    assert body.count("<polyline") == 4
