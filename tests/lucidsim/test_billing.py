import csv
import io
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from lucidsim import billing

DAY = 86_400
MONTH_MS = 30 * 86_400_000


def _fs(used_bytes: int, users: int, *, created_ms: int = 0, deleted_ms=None, sub="teams"):
    return billing.BillableFilespace(
        id="fs-1",
        name="media",
        provider="IBM",
        owner="lucidlink",
        subscription_type=sub,
        created_ms=created_ms,
        deleted_ms=deleted_ms,
        used_at=lambda at: used_bytes,
        users_at=lambda at: users,
        users_peak=lambda start, end: users,
    )


def test_a_full_month_is_rated_from_the_price_list():
    item = billing.line_item(
        _fs(100 * 10**9, 2), period_start=0, period_end=MONTH_MS, now=MONTH_MS, forecast=True
    )

    # 100 GB-months at 2 cents plus 2 user-months at 500 cents.
    assert item["amountDue"] == 200 + 1000
    assert item["amountDueForecast"] == 1200
    assert item["usageByDimension"] == [
        {"dimension": "ManagedCapacity", "usage": 100.0},
        {"dimension": "FilespaceUsers", "usage": 2},
    ]


def test_half_a_month_is_due_and_the_rest_is_forecast():
    item = billing.line_item(
        _fs(100 * 10**9, 0, sub="basic"),
        period_start=0,
        period_end=MONTH_MS,
        now=MONTH_MS // 2,
        forecast=True,
    )

    assert item["amountDue"] == 50
    assert item["amountDueForecast"] == 100


def test_a_deleted_filespace_stops_accruing_and_has_no_forecast():
    item = billing.line_item(
        _fs(100 * 10**9, 0, deleted_ms=MONTH_MS // 4),
        period_start=0,
        period_end=MONTH_MS,
        now=MONTH_MS // 2,
        forecast=True,
    )

    assert item["isDeleted"] is True
    assert item["amountDue"] == 50
    assert item["amountDueForecast"] == 50


def test_enterprise_is_reported_with_the_billing_schemas_name():
    item = billing.line_item(
        _fs(0, 0, sub="enterprise"), period_start=0, period_end=MONTH_MS, now=1, forecast=False
    )

    assert item["subscriptionType"] == "advanced"


def test_month_boundaries_are_calendar_months_in_utc():
    mid_feb = int(datetime(2028, 2, 15, 12, tzinfo=UTC).timestamp() * 1000)

    assert billing.month_start(mid_feb) == int(datetime(2028, 2, 1, tzinfo=UTC).timestamp() * 1000)
    assert billing.next_month_start(mid_feb) == int(
        datetime(2028, 3, 1, tzinfo=UTC).timestamp() * 1000
    )
    december = int(datetime(2027, 12, 31, tzinfo=UTC).timestamp() * 1000)
    assert billing.next_month_start(december) == int(
        datetime(2028, 1, 1, tzinfo=UTC).timestamp() * 1000
    )


def test_payment_details_start_empty_and_are_saved_without_the_token(lucidsim):
    assert lucidsim.api("GET", "/billing/payment").json() == {}

    response = lucidsim.api(
        "PATCH", "/billing/payment", {"description": "ACME card", "paymentSourceToken": "tok_123"}
    )

    assert response.status_code == 200
    details = lucidsim.api("GET", "/billing/payment").json()
    assert details["description"] == "ACME card"
    assert details["card"]["numberLast4"] == "4242"
    assert "tok_123" not in lucidsim.api("GET", "/billing/payment").text


def test_bad_payment_details_are_a_400(lucidsim):
    for body in (
        {"description": 5},
        {"card": {"numberLast4": "12", "expiryMonth": 1, "expiryYear": 2030}},
        {"card": {"numberLast4": "1234", "expiryMonth": 13, "expiryYear": 2030}},
        [1, 2],
    ):
        response = lucidsim.api("PATCH", "/billing/payment", body)
        assert response.status_code == 400
        assert response.json() == {
            "status": 400,
            "message": "Invalid request. Check billing model definition.",
        }


def test_the_current_period_charges_capacity_and_users(mid_month, lucidsim, create_fs):
    empty = lucidsim.api("GET", "/billing/current-period").json()
    assert empty["amountDue"] == 0
    assert empty["filespaceBreakdown"] == []
    fs = create_fs("media")
    lucidsim.set_stats(fs["id"], usedStorage=10 * 10**12)
    lucidsim.set_status(fs["id"], "initialized")
    lucidsim.advance_clock(3600)

    period = lucidsim.api("GET", "/billing/current-period").json()

    assert period["currency"] == "USD"
    assert period["start"] <= lucidsim.now_ms() < period["end"]
    assert period["amountDueForecast"] > period["amountDue"] > 0
    (item,) = period["filespaceBreakdown"]
    assert item["filespace"] == fs["id"]
    assert item["isDeleted"] is False
    assert item["storageOwner"] == "lucidlink"
    assert item["usageByDimension"][0]["dimension"] == "ManagedCapacity"
    # 10 TB for the rest of the month is forecast at 2 cents per GB-month: up to 20,000 cents.
    assert 0 < item["amountDueForecast"] <= 21_000


def test_closing_the_period_issues_an_invoice_with_a_csv_breakdown(mid_month, lucidsim, create_fs):
    fs = create_fs("media")
    lucidsim.set_stats(fs["id"], usedStorage=10**12)
    lucidsim.advance_clock(2 * DAY)

    invoice = lucidsim.close_period()["invoices"]["portal-test"]
    listed = lucidsim.api("GET", "/billing/invoices").json()

    assert listed == [invoice]
    assert invoice["amountDue"] > 0
    assert invoice["paymentStatus"] == "not_paid"
    assert invoice["periodEnd"] == invoice["date"]
    csv_response = lucidsim.api("GET", f"/billing/invoices/{invoice['id']}/breakdown/csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [row["filespace"] for row in rows] == [fs["id"]]
    assert int(rows[0]["amountDue"]) == invoice["amountDue"]
    assert rows[0]["isDeleted"] == "false"


def test_an_unknown_invoice_breakdown_is_a_404(lucidsim):
    response = lucidsim.api("GET", f"/billing/invoices/{uuid.uuid4()}/breakdown/csv")

    assert response.status_code == 404
    assert response.json() == {"status": 404, "message": "Invoice not found."}


def test_crossing_a_month_boundary_issues_invoices_by_itself(lucidsim, create_fs):
    create_fs("media")

    lucidsim.advance_clock(65 * DAY)
    invoices = lucidsim.api("GET", "/billing/invoices").json()

    assert len(invoices) >= 2
    for earlier, later in itertools.pairwise(invoices):
        assert later["periodStart"] == earlier["periodEnd"]
    period = lucidsim.api("GET", "/billing/current-period").json()
    assert period["start"] == invoices[-1]["periodEnd"]


@pytest.mark.parametrize(
    "start",
    [
        "2026-11-30T23:59:59+00:00",
        "2026-12-31T23:30:00+00:00",
        "2028-02-28T23:59:59+00:00",
        "2028-02-29T23:59:59+00:00",
    ],
)
def test_a_period_that_ends_while_the_clock_runs_is_invoiced_before_the_closing_one(
    lucidsim, start
):
    """The month's invoice ends on the next 1st at 00:00 UTC; the explicit close starts there."""
    with time_machine.travel(datetime.fromisoformat(start), tick=True):
        lucidsim.reset()
        domain = lucidsim.create_domain("acme")
        body = {
            "domain": domain["id"],
            "name": "media",
            "storage": {"provider": "IBM", "region": "us-east"},
        }
        fs = lucidsim.api("POST", "/filespaces", body).json()
        lucidsim.set_stats(fs["id"], usedStorage=10**12)
        lucidsim.advance_clock(2 * DAY)

        closing = lucidsim.close_period()["invoices"]["portal-test"]
        listed = lucidsim.api("GET", "/billing/invoices").json()

    moment = datetime.fromisoformat(start)
    month_start = moment.replace(day=1, hour=0, minute=0, second=0)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    assert [i["id"] for i in listed] == [listed[0]["id"], closing["id"]]
    assert listed[0]["periodStart"] == int(month_start.timestamp() * 1000)
    assert listed[0]["periodEnd"] == int(next_month.timestamp() * 1000)
    assert closing["periodStart"] == listed[0]["periodEnd"]
    assert closing["periodEnd"] == closing["date"] > closing["periodStart"]
    assert [row["filespace"] for row in closing["filespaceBreakdown"]] == [fs["id"]]


def test_a_filespace_deleted_in_the_period_is_billed_once_as_deleted(
    mid_month, lucidsim, create_fs
):
    fs = create_fs("media")
    lucidsim.set_stats(fs["id"], usedStorage=10**12)
    lucidsim.advance_clock(DAY)
    assert lucidsim.api("DELETE", f"/filespaces/{fs['id']}").status_code == 204

    current = lucidsim.api("GET", "/billing/current-period").json()
    invoice = lucidsim.close_period()["invoices"]["portal-test"]
    after = lucidsim.api("GET", "/billing/current-period").json()

    assert current["filespaceBreakdown"][0]["isDeleted"] is True
    assert current["filespaceBreakdown"][0]["amountDue"] > 0
    assert invoice["filespaceBreakdown"][0]["isDeleted"] is True
    assert after["filespaceBreakdown"] == []


def test_an_invoice_is_paid_when_a_payment_source_is_on_file(lucidsim):
    lucidsim.api("PATCH", "/billing/payment", {"paymentSourceToken": "tok_1"})

    invoice = lucidsim.close_period()["invoices"]["portal-test"]

    assert invoice["paymentStatus"] == "paid"
