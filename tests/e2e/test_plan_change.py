"""Journey: an owner moves a filespace to a plan that needs approval, staff approve it, and the
usage page shows the month in two plan periods."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from billing.models import PlanChange, UsageSample
from tests.e2e.conftest import sign_in, sign_in_with_totp

FACTORY_PASSWORD = "correct-horse-battery-9"
STORED = 2 * 10**12  # 2 TB


def seed_samples(filespace, *, start, end) -> None:
    slot, rows = start, []
    while slot < end:
        rows.append(
            UsageSample(
                filespace=filespace,
                customer=filespace.customer,
                slot=slot,
                sampled_at=slot + timedelta(minutes=1),
                used_storage=STORED,
                filespace_size=STORED,
                users_count=2,
                get_request_count=0,
                get_data_size=0,
                put_request_count=0,
                put_data_size=0,
                list_request_count=0,
                delete_request_count=0,
            )
        )
        slot += timedelta(hours=1)
    UsageSample.objects.bulk_create(rows)


def test_an_owner_asks_for_a_dearer_plan_and_staff_approve_it(
    portal, plan, plan_factory, customer_factory, member_factory, user_factory,
    filespace_factory, staff, page, new_context, shots,
):  # fmt: skip
    shots.journey = "plan-change"
    plan_factory(
        name="Teams Plus", slug="teams-plus", price_per_unit_month=Decimal("0.030000"),
        allowed_regions=["us-east", "eu-de"], plan_change_needs_approval=True,
    )  # fmt: skip
    plan_factory(name="Own AWS bucket", slug="own-aws", provider="AWS", storage_owner="customer")
    customer = customer_factory(name="Wingtip Media", name_prefix="wingtip")
    owner = member_factory(role="owner", customer=customer,
                           user=user_factory("wendy@wingtip.example"))  # fmt: skip
    # Two days of hourly samples, whatever the date: the preview reads the latest one.
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    filespace = filespace_factory(
        customer=customer, plan=plan, name="footage", state="active", remote_id="fs-journey",
        provisioned_at=start, active_at=start, region="us-east",
    )  # fmt: skip
    seed_samples(filespace, start=start, end=timezone.now().replace(minute=0, second=0))

    # The server's first page loads its templates: on a loaded machine that alone can take
    # longer than a step's 10 s, so it gets a minute once.
    page.goto(portal + "/accounts/login/", timeout=60_000)
    # The owner opens the filespace and chooses to change its plan.
    sign_in(page, portal, owner.user.email, FACTORY_PASSWORD)
    page.goto(f"{portal}/filespaces/{filespace.pk}/")
    page.get_by_role("link", name="Change plan").click()
    choices = page.get_by_role("group", name="Plans this filespace can move to")
    expect(choices).to_contain_text("Teams Plus")
    expect(choices).not_to_contain_text("Own AWS bucket")  # other storage: not offered
    page.get_by_label("Teams Plus").check()
    page.get_by_role("button", name="Show the price difference").click()

    # The price difference is shown before anything changes.
    preview = page.get_by_role("region", name="Moving to Teams Plus")
    expect(preview.get_by_role("row", name="Stored data")).to_contain_text("2,000 GB")
    expect(preview).to_contain_text("USD 40.00")  # 2,000 GB at 0.02
    expect(preview).to_contain_text("USD 60.00")  # 2,000 GB at 0.03
    expect(preview.get_by_role("row", name="Difference per month")).to_contain_text("+USD 20.00")
    shots(page, "preview")
    preview.get_by_role("button", name="Ask to move to Teams Plus").click()
    expect(page.get_by_role("status").filter(has_text="waiting for approval")).to_be_visible()
    change = PlanChange.objects.get(filespace=filespace)
    assert change.state == PlanChange.State.PENDING
    page.goto(f"{portal}/filespaces/{filespace.pk}/plan/")
    expect(page.get_by_text("is waiting for approval")).to_be_visible()
    shots(page, "pending")

    # Staff approve it in the console.
    console = new_context().new_page()
    sign_in_with_totp(console, portal + "/staff/plan-changes/", staff.email, FACTORY_PASSWORD)
    row = console.get_by_role("row").filter(has_text=filespace.remote_name)
    expect(row).to_contain_text("Teams Plus")
    shots(console, "staff-approval")
    row.get_by_role("button", name="Approve").click()
    expect(console.get_by_text("is on Teams Plus from now on")).to_be_visible()
    change.refresh_from_db()
    assert change.state == PlanChange.State.APPLIED

    # The owner's usage page shows the month in two plan periods.
    page.goto(f"{portal}/billing/usage/")
    usage = page.get_by_role("region", name=filespace.qualified_name)
    expect(usage).to_contain_text("Plan periods")
    expect(usage).to_contain_text("Teams Standard: ")
    expect(usage).to_contain_text("Teams Plus: ")
    shots(page, "usage-periods")
