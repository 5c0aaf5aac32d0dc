"""The usage page's figures add up, and billing copy reads as one product (money, units, months)."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing import services
from portal.customers.models import Customer
from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db

NOW = "2026-06-16T12:00:00Z"
GB = 10**9
MONEY = re.compile(r"USD ([\d,]+\.\d\d)")


@pytest.fixture
def billing_member(member_factory):
    return member_factory(role="billing")


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def small_filespace(live_filespace, customer, plan_factory):
    """10 GB on a plan priced 0.02/GB-month with a 9.00 minimum: usage alone is far below it."""
    plan = plan_factory(minimum_monthly_charge=Decimal("9.00"), currency="USD")
    filespace = live_filespace(ready="2026-01-01T00:00", customer=customer, plan=plan)
    write_samples(filespace, "2026-06-01T00:00", "2026-06-16T12:00", 10 * GB)
    return filespace


def usage_page(client, member) -> str:
    client.force_login(member.user)
    return client.get(reverse("billing:usage")).content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_total_forecast_is_the_filespaces_forecast_plus_the_minimum_top_up(
    client, billing_member, live_filespace, plan_factory
):
    small_filespace(live_filespace, billing_member.customer, plan_factory)
    html = usage_page(client, billing_member)

    total_card = html.split('id="usage-total-USD"', 1)[1].split("</div>", 1)[0]
    forecast = _amount(re.search(r"Forecast for June: <strong>USD ([\d,]+\.\d\d)", total_card)[1])
    top_up = _amount(re.search(r"Includes USD ([\d,]+\.\d\d) to reach", total_card)[1])
    usage_below = _amount(re.search(r"below costs USD ([\d,]+\.\d\d)", total_card)[1])
    row = html.split('class="card usage-card"', 1)[1]
    row_forecast = _amount(
        re.search(r"Usage forecast for the month</dt><dd>USD ([\d,]+\.\d\d)", row)[1]
    )
    assert forecast == Decimal("9.00")
    assert row_forecast == usage_below
    assert row_forecast + top_up == forecast
    assert "costs at least USD 9.00 a month" in row


@time_machine.travel(NOW, tick=False)
def test_without_a_minimum_the_total_is_the_sum_of_the_filespaces(
    client, billing_member, live_filespace
):
    for _ in range(2):
        fs = live_filespace(ready="2026-01-01T00:00", customer=billing_member.customer)
        write_samples(fs, "2026-06-01T00:00", "2026-06-16T12:00", 10**12)
    html = usage_page(client, billing_member)
    total_card = html.split('id="usage-total-USD"', 1)[1].split("</div>", 1)[0]
    forecast = _amount(re.search(r"Forecast for June: <strong>USD ([\d,]+\.\d\d)", total_card)[1])
    rows = re.findall(r"Usage forecast for the month</dt><dd>USD ([\d,]+\.\d\d)", html)
    assert len(rows) == 2
    assert sum(_amount(r) for r in rows) == forecast
    assert "to reach" not in total_card


@time_machine.travel(NOW, tick=False)
def test_one_missing_hour_is_one_hour(client, billing_member, live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00", customer=billing_member.customer)
    write_samples(fs, "2026-06-01T00:00", "2026-06-10T00:00", 10**12)
    write_samples(fs, "2026-06-10T01:00", "2026-06-16T12:00", 10**12)
    html = usage_page(client, billing_member)
    assert "1</span> hour without a measurement" in html
    assert "hours without" not in html


@time_machine.travel(NOW, tick=False)
def test_units_are_explained_in_words_not_powers(client, billing_member, live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00", customer=billing_member.customer)
    write_samples(fs, "2026-06-01T00:00", "2026-06-16T12:00", 10**12)
    html = usage_page(client, billing_member)
    assert "10^9" not in html and "2^30" not in html
    assert "a GB is 1,000,000,000 bytes" in html


@time_machine.travel(NOW, tick=False)
def test_money_is_written_one_way_on_billing_pages(
    client, billing_member, live_filespace, plan_factory
):
    small_filespace(live_filespace, billing_member.customer, plan_factory)
    services.invoice_run(year=2026, month=5)
    pages = [usage_page(client, billing_member)]
    pages.append(client.get(reverse("billing:invoices")).content.decode())
    pages.append(client.get(reverse("plans:list")).content.decode())
    for html in pages:
        assert not re.search(r"\d USD\b", html), "an amount written as '0.00 USD'"
    assert MONEY.search(pages[0])


@time_machine.travel(NOW, tick=False)
def test_the_month_picker_starts_at_the_organisations_first_month(client, billing_member):
    Customer.objects.filter(pk=billing_member.customer_id).update(
        created_at=datetime(2026, 4, 20, tzinfo=UTC)
    )
    html = usage_page(client, billing_member)
    picker = html.split('id="period"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([\d-]+)"', picker) == ["2026-06", "2026-05", "2026-04"]
