"""Journey 4: once the real worker has sampled usage, the customer sees a chart and an invoice."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import tasks
from billing.models import DailyUsage, Invoice, UsageSample
from tests.e2e.conftest import sign_in, sign_in_with_totp
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

FACTORY_PASSWORD = "correct-horse-battery-9"
USED_BYTES = 1_500 * 10**9  # 1.5 TB


@pytest.fixture
def remote_filespace(sim, msp_domain):
    """A filespace that exists at LucidLink with 1.5 TB stored; returns its remote id."""
    body = {
        "domain": msp_domain["id"],
        "name": "wingtip-footage",
        "subscriptionType": "teams",
        "storage": {"owner": "lucidlink", "provider": "IBM", "region": "us-east"},
    }
    response = sim.api("POST", "/filespaces", body)
    assert response.status_code == 201, response.text
    remote_id = response.json()["id"]
    sim.set_stats(remote_id, usedStorage=USED_BYTES, filespaceSize=USED_BYTES)
    return remote_id


def seed_hourly_history(filespace, *, start, end) -> int:
    """Hourly samples in [start, end), growing from 1.0 TB towards 1.5 TB; returns how many."""
    hours = int((end - start).total_seconds() // 3600)
    samples = []
    for hour in range(hours):
        used = 10**12 + (USED_BYTES - 10**12) * hour // max(hours, 1)
        slot = start + timedelta(hours=hour)
        samples.append(
            UsageSample(
                filespace=filespace,
                customer=filespace.customer,
                slot=slot,
                sampled_at=slot + timedelta(minutes=1),
                used_storage=used,
                filespace_size=used,
                users_count=3,
                get_request_count=0,
                get_data_size=0,
                put_request_count=0,
                put_data_size=0,
                list_request_count=0,
                delete_request_count=0,
            )
        )
    UsageSample.objects.bulk_create(samples)
    return hours


def test_after_samples_are_collected_the_usage_chart_has_data_and_the_invoice_downloads(
    portal, worker, remote_filespace, plan, customer_factory, member_factory, user_factory,
    filespace_factory, staff, page, new_context, shots,
):  # fmt: skip
    customer = customer_factory(name="Wingtip Media", name_prefix="wingtip")
    owner = member_factory(role="owner", customer=customer,
                           user=user_factory("wendy@wingtip.example"))  # fmt: skip
    ready = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    filespace = filespace_factory(
        customer=customer, plan=plan, name="footage", state="active", remote_id=remote_filespace,
        provisioned_at=ready, active_at=ready + timedelta(hours=1),
    )  # fmt: skip

    # Earlier hours of the month, as beat collected them; the current hour is the worker's.
    this_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    earlier_hours = seed_hourly_history(filespace, start=ready, end=this_hour)
    assert not UsageSample.objects.filter(filespace=filespace, slot__gte=this_hour).exists()

    # No daily rollup yet: the usage page has nothing to draw.
    sign_in(page, portal, owner.user.email, FACTORY_PASSWORD)
    expect(page.get_by_role("heading", name="Wingtip Media")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Usage").click()
    usage = page.get_by_role("region", name=filespace.qualified_name)
    expect(usage).to_contain_text("No daily usage recorded for this month yet.")

    # The real worker samples lucidsim over HTTP, rolls the days up and drafts the invoice.
    tasks.collect_usage.delay()
    wait_until(lambda: UsageSample.objects.filter(filespace=filespace).count() > earlier_hours,
               timeout=60)  # fmt: skip
    latest = UsageSample.objects.filter(filespace=filespace).latest("slot")
    assert latest.slot >= this_hour
    assert latest.used_storage == pytest.approx(USED_BYTES, rel=1e-3)
    days_back = (timezone.now().date() - ready.date()).days
    tasks.rollup_usage.delay(days_back=days_back)
    wait_until(lambda: DailyUsage.objects.filter(filespace=filespace).count() == days_back + 1,
               timeout=60)  # fmt: skip
    now = timezone.now()
    tasks.run_invoices.delay(year=now.year, month=now.month)
    wait_until(lambda: Invoice.objects.filter(customer=customer).exists(), timeout=60)

    # Staff finalize the draft from the billing console (drafts are never shown to customers).
    nav.get_by_role("link", name="Invoices").click()
    expect(page.get_by_text("No invoices yet.")).to_be_visible()
    console = new_context().new_page()
    sign_in_with_totp(console, portal + "/billing/staff/", staff.email, FACTORY_PASSWORD)
    draft = (
        console.get_by_role("region", name="Customers")
        .get_by_role("row")
        .filter(has_text="Wingtip Media")
    )
    expect(draft).to_contain_text("Draft")
    draft.get_by_role("link", name="draft").click()
    heading = console.get_by_role("heading", level=1)
    expect(heading).to_contain_text("(draft)")
    console.get_by_role("button", name="Finalize").click()
    expect(heading).not_to_contain_text("(draft)")
    invoice = Invoice.objects.get(customer=customer)
    expect(heading).to_have_text(f"Invoice {invoice.number}")
    assert invoice.status == Invoice.Status.FINALIZED
    assert invoice.total > 0

    # The chart now plots the sampled storage.
    nav.get_by_role("link", name="Usage").click()
    chart = usage.get_by_role("img", name=re.compile(r"^Stored data in "))
    expect(chart).to_be_visible()
    points = chart.locator("polyline.chart-average").get_attribute("points")
    assert re.fullmatch(r"[\d.]+,[\d.]+( [\d.]+,[\d.]+)*", points.strip()), points
    assert len(points.split()) == days_back + 1
    expect(usage).to_contain_text("GB-month")
    expect(usage).not_to_contain_text("No daily usage recorded")
    shots(page, "usage")

    # The finalized invoice is listed and downloads as CSV with the filespace's line.
    nav.get_by_role("link", name="Invoices").click()
    row = page.get_by_role("row").filter(has_text=invoice.number)
    expect(row).to_be_visible()
    row.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    expect(page.get_by_role("cell").filter(has_text=filespace.qualified_name)).not_to_have_count(0)
    shots(page, "invoice")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"{invoice.number}.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    usage_lines = [r for r in rows if r["kind"] == "usage"]
    assert [r["filespace"] for r in usage_lines] == [filespace.qualified_name]
    total = next(r for r in rows if r["kind"] == "total")
    assert Decimal(total["amount"]) == invoice.total.quantize(Decimal("0.01"))
