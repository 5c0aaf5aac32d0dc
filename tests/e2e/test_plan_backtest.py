"""Staff back-test a price: last month's stored usage under a withdrawn plan, then draft terms.

Figures do not depend on the month: 1 TB stored all month is 1,000 GB-month (931.322575
GiB-month) in any month, so whichever month "last month" is, the page says the same.
Screenshots: `make docs-screenshots` copies them into docs/screenshots/backtest/.
"""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from billing import rating
from tests.billing.conftest import write_samples
from tests.e2e.conftest import sign_in_with_totp

FACTORY_PASSWORD = "correct-horse-battery-9"
TB = 10**12


def last_month() -> tuple[str, str, str]:
    start, end = rating.month_of(timezone.now().replace(day=1) - timedelta(days=1))
    return f"{start:%Y-%m}", f"{start:%Y-%m-%dT%H:%M}", f"{end:%Y-%m-%dT%H:%M}"


def test_staff_back_test_a_draft_price_against_last_months_usage_and_download_it(
    portal, plan, plan_factory, staff, customer_factory, filespace_factory, page, shots
):
    shots.journey = "backtest"
    month, start, end = last_month()
    plan.cost_per_gib_month = Decimal("0.01")
    plan.save()
    plus = plan_factory(
        name="Teams Plus", slug="teams-plus", price_per_unit_month=Decimal("0.025"),
        minimum_monthly_charge=Decimal("15.00"), cost_per_gib_month=Decimal("0.01"),
        is_active=False,
    )  # fmt: skip
    before = timezone.now() - timedelta(days=90)
    for name, used in [("Northwind Studio", TB), ("Tailspin Toys", 10**10),
                       ("Fabrikam Films", 5 * TB // 2)]:  # fmt: skip
        customer = customer_factory(name=name)
        filespace = filespace_factory(
            customer=customer, plan=plan, state="active", remote_id=f"fs-{customer.pk}",
            provisioned_at=before, active_at=before,
        )  # fmt: skip
        write_samples(filespace, start, end, used)

    sign_in_with_totp(page, portal + "/staff/plans/", staff.email, FACTORY_PASSWORD)
    row = page.get_by_role("row").filter(has_text="Teams Plus")
    shots(page, "plans")
    row.get_by_role("link", name="Back-test Teams Plus").click()
    expect(page.get_by_label(re.compile(r"^Plan:?$"))).to_have_value(str(plus.pk))
    # The form starts at last month (tests/staff/test_backtest_page.py pins that); the journey
    # names the month it wrote, since its clock may pass a month end before the page loads.
    page.get_by_label(re.compile(r"^Month:?$")).fill(month)
    page.get_by_role("button", name="Run the back-test").click()

    results = page.get_by_role("region", name="Teams Plus")
    northwind = results.get_by_role("row").filter(has_text="Northwind Studio")
    # 1,000 GB-month: paid 1,000 x 0.02 = 20.00, would pay 1,000 x 0.025 = 25.00, cost 9.31.
    expect(northwind).to_contain_text("USD 20.00")
    expect(northwind).to_contain_text("USD 25.00")
    expect(northwind).to_contain_text("USD 9.31")
    # 10 GB: 0.20 paid; 0.25 at the new price is below the 15.00 minimum.
    tailspin = results.get_by_role("row").filter(has_text="Tailspin Toys")
    expect(tailspin).to_contain_text("USD 0.20")
    expect(tailspin).to_contain_text("USD 15.00")
    shots(page, "results")

    # A draft: the same plan at 0.03, nothing saved.
    page.get_by_label(re.compile(r"^Draft price per unit-month:?$")).fill("0.03")
    page.get_by_role("button", name="Run the back-test").click()
    draft = page.get_by_role("region", name="Teams Plus (draft terms)")
    expect(draft.get_by_role("row").filter(has_text="Northwind Studio")).to_contain_text(
        "USD 30.00"
    )
    plus.refresh_from_db()
    assert plus.price_per_unit_month == Decimal("0.025")
    shots(page, "draft")

    with page.expect_download() as download:
        draft.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    total = rows[-1]
    # Would pay at 0.03: 30.00 + 0.30 topped up to 15.00 + 2,500 x 0.03 = 75.00.
    assert (total["customer"], total["paid"], total["would_pay"]) == ("Total", "70.20", "120.00")

    page.set_viewport_size({"width": 390, "height": 844})
    shots(page, "phone")
