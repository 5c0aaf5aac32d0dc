"""The nightly comparison with LucidLink's current billing period."""

from decimal import Decimal
from unittest import mock

import pytest
import time_machine

from billing import services, tasks
from billing.models import BillingFlag
from billing.services.upstream import drift_percent
from provisioning import lucidlink
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db

TB = 10**12
NOW = at("2026-06-16T00:00")


def line(remote_id, *, capacity, cents, name="fs"):
    usage = (lucidlink.FilespaceUsage("ManagedCapacity", Decimal(capacity)),)
    return lucidlink.FilespaceLineItem(
        filespace_id=remote_id, name=name, amount_due=cents, amount_due_forecast=None,
        is_deleted=False, storage_owner="lucidlink", storage_provider="IBM",
        subscription_type="teams", usage=usage,
    )  # fmt: skip


def period(*items):
    return lucidlink.BillingPeriod(
        start=at("2026-06-01T00:00"), end=at("2026-07-01T00:00"), subscription_status="active",
        amount_due=sum(i.amount_due for i in items), amount_due_forecast=0, currency="USD",
        trial_days=None, filespaces=tuple(items),
    )  # fmt: skip


@pytest.fixture
def metered(live_filespace):
    """A filespace with 1 TB for the first 15 days of June: 500 GB-month metered so far."""
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-16T00:00", TB)
    return fs


def test_drift_is_a_percentage_of_lucidlinks_figure():
    assert drift_percent(ours=Decimal(106), theirs=Decimal(100)) == Decimal("6.00")
    assert drift_percent(ours=Decimal(0), theirs=Decimal(0)) == Decimal(0)
    assert drift_percent(ours=Decimal(1), theirs=Decimal(0)) == Decimal(100)


def test_agreement_within_the_limit_raises_no_flag(metered, fake_lucidlink):
    fake_lucidlink.period = period(line(metered.remote_id, capacity="510", cents=500))

    assert services.upstream_check(client=fake_lucidlink, now=NOW) == []
    assert not BillingFlag.objects.exists()


def test_drift_above_the_limit_is_flagged_once_however_often_it_runs(
    metered, fake_lucidlink, settings
):
    settings.BILLING_DRIFT_PERCENT = 5
    fake_lucidlink.period = period(line(metered.remote_id, capacity="400", cents=500))

    services.upstream_check(client=fake_lucidlink, now=NOW)
    first = BillingFlag.objects.get(kind=BillingFlag.Kind.DRIFT)
    later = at("2026-06-16T00:30")
    services.upstream_check(client=fake_lucidlink, now=later)

    assert (first.ours, first.theirs, first.drift_percent) == (
        Decimal("500"), Decimal("400"), Decimal("25.00"),
    )  # fmt: skip
    flag = BillingFlag.objects.get(kind=BillingFlag.Kind.DRIFT)
    # Half an hour later the last measurement (1 TB) is carried on: 500 + 1000 x 0.5 / 720.
    assert flag.ours == Decimal("500.694444")
    assert flag.filespace == metered and flag.customer == metered.customer
    assert flag.first_seen_at == NOW and flag.last_seen_at == later


def test_a_flag_is_resolved_when_the_drift_goes_away(metered, fake_lucidlink):
    fake_lucidlink.period = period(line(metered.remote_id, capacity="400", cents=500))
    services.upstream_check(client=fake_lucidlink, now=NOW)
    fake_lucidlink.period = period(line(metered.remote_id, capacity="500", cents=500))

    services.upstream_check(client=fake_lucidlink, now=at("2026-06-16T00:00:01"))

    assert BillingFlag.objects.get().resolved_at == at("2026-06-16T00:00:01")


def test_a_customer_charged_less_than_lucidlink_costs_is_flagged(metered, fake_lucidlink):
    # We charge 500 GB-month x 0.02 = 10.00 so far; LucidLink charges 12.34.
    fake_lucidlink.period = period(line(metered.remote_id, capacity="500", cents=1234))

    services.upstream_check(client=fake_lucidlink, now=NOW)

    flag = BillingFlag.objects.get(kind=BillingFlag.Kind.BELOW_COST)
    assert flag.customer == metered.customer
    assert "Charged USD 10.00" in flag.message and "charges USD 12.34" in flag.message


def test_a_filespace_lucidlink_bills_but_the_portal_lacks_is_flagged(metered, fake_lucidlink):
    fake_lucidlink.period = period(
        line(metered.remote_id, capacity="500", cents=500),
        line("stray-1", capacity="50", cents=100, name="stray"),
    )

    services.upstream_check(client=fake_lucidlink, now=NOW)

    flag = BillingFlag.objects.get(kind=BillingFlag.Kind.UNKNOWN_FILESPACE)
    assert flag.subject == "remote:stray-1" and "'stray'" in flag.message


@time_machine.travel("2026-06-16T02:30:00Z", tick=False)
def test_the_task_retries_when_lucidlink_is_unavailable(fake_lucidlink):
    fake_lucidlink.current_billing_period = mock.Mock(side_effect=lucidlink.Unavailable("503"))
    with (
        mock.patch("provisioning.lucidlink.get_client", return_value=fake_lucidlink),
        mock.patch.object(
            tasks.check_upstream_billing, "retry", side_effect=RuntimeError("retry")
        ) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        tasks.check_upstream_billing.run()

    assert retry.call_args.kwargs["countdown"] >= 15
