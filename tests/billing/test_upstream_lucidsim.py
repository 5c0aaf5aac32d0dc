"""The upstream check through the real client against lucidsim's GET /billing/current-period."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from billing import services
from billing.models import BillingFlag
from provisioning import lucidlink

pytestmark = pytest.mark.django_db


def _mid_month_after(moment: datetime) -> datetime:
    """Noon on the 10th of the month after `moment`: 3 days later is still the same month."""
    first_of_next = (moment.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_of_next.replace(day=10, hour=12, minute=0, second=0, microsecond=0)


def _pin_both_clocks(lucidsim) -> time_machine.travel:
    """Move lucidsim's clock (it only goes forward) and ours to the same mid-month instant."""
    sim_now = datetime.fromtimestamp(lucidsim.now_ms() / 1000, tz=UTC)
    target = _mid_month_after(sim_now)
    lucidsim.advance_clock((target - sim_now).total_seconds())
    return time_machine.travel(target, tick=True)


def test_the_check_reads_lucidsims_period_and_flags_what_we_did_not_meter(lucidsim, live_filespace):
    with _pin_both_clocks(lucidsim):
        _check_flags_what_we_did_not_meter(lucidsim, live_filespace)


def _check_flags_what_we_did_not_meter(lucidsim, live_filespace):
    lucidlink.forget_tokens()
    domain = lucidsim.create_domain("msp")
    ids = []
    for name in ("ours", "stray"):
        body = {"domain": domain["id"], "name": name, "subscriptionType": "teams"}
        body["storage"] = {"owner": "lucidlink", "provider": "IBM", "region": "us-east"}
        response = lucidsim.api("POST", "/filespaces", body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        lucidsim.set_stats(ids[-1], usedStorage=5 * 10**12, filespaceSize=5 * 10**12)
    lucidsim.advance_clock(3 * 86400)
    ready = (timezone.now() - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")
    ours = live_filespace(remote_id=ids[0], ready=ready)
    client = lucidlink.LucidLinkClient(
        api_url=lucidsim.api_url, token_url=lucidsim.token_url, client_id=lucidsim.client_id,
        client_secret=lucidsim.client_secret, connect_timeout=5, read_timeout=10,
    )  # fmt: skip
    period = client.current_billing_period()
    assert period.filespaces and all(i.managed_capacity > 0 for i in period.filespaces)

    services.upstream_check(client=client, now=timezone.now())

    # No samples were collected, so LucidLink's GB-months are all drift, and its cost is a loss.
    kinds = dict(BillingFlag.objects.values_list("kind", "subject"))
    assert kinds[BillingFlag.Kind.UNKNOWN_FILESPACE] == f"remote:{ids[1]}"
    assert kinds[BillingFlag.Kind.BELOW_COST] == f"customer:{ours.customer_id}"
    # lucidsim's clock is 3 days ahead, in the same month: the windows overlap and our zero is
    # 100% away from LucidLink's figure.
    assert period.start < timezone.now()
    drift = BillingFlag.objects.filter(kind=BillingFlag.Kind.DRIFT)
    assert [(f.filespace, f.drift_percent) for f in drift] == [(ours, 100)]
