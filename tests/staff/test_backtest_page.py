"""The back-test page and its CSV: staff only, figures as billing computes them, bad input said."""

import csv
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db

TB = 10**12
URL = reverse("staff:plan_backtest")


@pytest.fixture(autouse=True)
def _july(request):
    """The clock for the whole test, staff sign-in included; a test may name another instant."""
    with time_machine.travel(getattr(request, "param", "2026-07-10T12:00:00Z"), tick=False):
        yield


@pytest.fixture
def plans(plan_factory):
    current = plan_factory(name="Teams Standard", cost_per_gib_month=Decimal("0.01"))
    candidate = plan_factory(
        name="Teams Plus",
        price_per_unit_month=Decimal("0.025"),
        cost_per_gib_month=Decimal("0.01"),
        is_active=False,
    )
    return current, candidate


@pytest.fixture
def add_customer(filespace_factory, customer_factory, plans):
    """A customer with 1 TB all June on Teams Standard."""
    from tests.billing.conftest import at

    def add(name: str):
        customer = customer_factory(name=name)
        filespace = filespace_factory(
            customer=customer,
            plan=plans[0],
            state="active",
            remote_id=f"remote-{customer.pk}",
            provisioned_at=at("2026-05-01T00:00"),
            active_at=at("2026-05-01T00:00"),
        )
        write_samples(filespace, "2026-06-01T00:00", "2026-07-01T00:00", TB)
        return customer

    return add


def test_staff_see_each_customer_paid_and_would_pay_with_totals(staff_client, plans, add_customer):
    """1 TB all June: 1,000 GB-month paid at 0.02 = 20.00, would pay at 0.025 = 25.00; cost
    931.322575 GiB-month * 0.01 = 9.31 each."""
    add_customer("Acme Media")
    add_customer("Borealis Post")
    response = staff_client.get(URL, {"plan": plans[1].pk, "month": "2026-06"})
    assert response.status_code == 200
    page = response.context["page"]
    assert [(name, row.paid, row.would_pay) for name, row in page.named_rows] == [
        ("Acme Media", Decimal("20.00"), Decimal("25.00")),
        ("Borealis Post", Decimal("20.00"), Decimal("25.00")),
    ]
    html = response.content.decode()
    assert "Acme Media" in html and "USD 25.00" in html and "USD 50.00" in html
    # Margin at the tested price: 50.00 - 2 * 9.31.
    assert "USD 31.38" in html


def test_draft_terms_from_the_form_are_what_is_rated(staff_client, plans, add_customer):
    add_customer("Acme Media")
    response = staff_client.get(
        URL, {"plan": plans[0].pk, "month": "2026-06", "price_per_unit_month": "0.03"}
    )
    (row,) = response.context["page"].result.rows
    assert (row.paid, row.would_pay) == (Decimal("20.00"), Decimal("30.00"))
    assert "draft terms" in response.content.decode()


def test_the_csv_holds_every_customer_and_the_total(staff_client, plans, add_customer):
    add_customer("=cmd|' /C calc'!A0")
    add_customer("Borealis Post")
    response = staff_client.get(URL, {"plan": plans[1].pk, "month": "2026-06", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "backtest-plan-2-2026-06.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["customer"] for r in rows] == ["'=cmd|' /C calc'!A0", "Borealis Post", "Total"]
    total = rows[-1]
    assert (total["paid"], total["would_pay"], total["difference"]) == ("40.00", "50.00", "10.00")
    assert (total["lucidlink_cost"], total["margin"], total["margin_paid"]) == (
        "18.62",
        "31.38",
        "21.38",
    )
    assert rows[0]["paid_from"] == "rated"


def test_the_page_costs_the_same_queries_for_one_customer_or_many(
    staff_client, plans, add_customer
):
    add_customer("Customer 1")
    params = {"plan": plans[1].pk, "month": "2026-06"}
    staff_client.get(URL, params)  # the session and the MFA check settle on the first request
    with CaptureQueriesContext(connection) as one:
        assert len(staff_client.get(URL, params).context["page"].result.rows) == 1
    for number in range(2, 8):
        add_customer(f"Customer {number}")
    with CaptureQueriesContext(connection) as many:
        assert len(staff_client.get(URL, params).context["page"].result.rows) == 7
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-07", "Pick a month that has ended"),
        ("2026-13", "Write the month as YYYY-MM"),
        ("June", "Write the month as YYYY-MM"),
    ],
)
def test_a_month_that_cannot_be_back_tested_is_explained(staff_client, plans, month, message):
    response = staff_client.get(URL, {"plan": plans[0].pk, "month": month})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert response.context["page"] is None


def test_an_unknown_plan_is_an_error_not_a_500(staff_client, plans):
    response = staff_client.get(URL, {"plan": "999999", "month": "2026-06"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_the_plans_list_links_each_plan_to_its_back_test(staff_client, plans):
    html = staff_client.get(reverse("staff:plans")).content.decode()
    assert f'href="{URL}?plan={plans[0].pk}"' in html


def test_an_unbound_form_starts_at_last_month_and_the_linked_plan(staff_client, plans):
    response = staff_client.get(URL, {"plan": plans[1].pk})
    form = response.context["form"]
    assert not form.is_bound
    assert form.initial == {"plan": str(plans[1].pk), "month": "2026-06"}


@pytest.mark.parametrize(
    ("_july", "last_month"),
    [("2027-01-01T00:00:00Z", "2026-12"), ("2028-03-01T00:00:00Z", "2028-02")],
    indirect=["_july"],
)
def test_last_month_is_read_from_the_clock_across_a_year_and_a_leap_february(
    staff_client, plans, last_month
):
    response = staff_client.get(URL, {"plan": plans[1].pk})

    assert response.context["form"].initial["month"] == last_month
