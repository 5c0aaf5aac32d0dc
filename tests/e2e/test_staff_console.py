"""Journey 3: MSP staff sign in with TOTP, approve, retry, suspend; the customer sees it."""

import re

import pytest
from playwright.sync_api import expect

from portal.customers.models import Customer
from provisioning.models import Filespace
from provisioning.services import ordering
from tests.e2e.conftest import sign_in_with_totp
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

FACTORY_PASSWORD = "correct-horse-battery-9"


def state_of(remote_name: str) -> str | None:
    return Filespace.objects.filter(remote_name=remote_name).values_list("state", flat=True).first()


def test_staff_with_totp_approve_retry_and_suspend_and_the_customer_sees_the_banner(
    portal, worker, sim, plan, plan_factory, staff, customer_factory, member_factory,
    user_factory, page, new_context, shots,
):  # fmt: skip
    customer = customer_factory(name="Tailspin Toys", name_prefix="tailspin")
    owner = member_factory(role="owner", customer=customer,
                           user=user_factory("tom@tailspin.example"))  # fmt: skip
    review_plan = plan_factory(name="Enterprise Review", slug="enterprise-review",
                               requires_approval=True)  # fmt: skip
    ordering.order_place(
        customer=customer, plan=review_plan, name="archive", provider="IBM", region="us-east",
        idempotency_key="e2e-archive", placed_by=owner.user,
    )  # fmt: skip
    # LucidLink refuses the first create, so the real worker marks that filespace failed.
    sim.add_fault(operation="createFilespace", status=422, times=1)
    ordering.order_place(
        customer=customer, plan=plan, name="renders", provider="IBM", region="us-east",
        idempotency_key="e2e-renders", placed_by=owner.user,
    )  # fmt: skip
    wait_until(lambda: state_of("tailspin-renders") == Filespace.State.ERROR, timeout=30)
    assert state_of("tailspin-archive") is None

    # Staff open their bookmark to the console: password first, then the authenticator code
    # computed from the stored TOTP secret (as an authenticator app does), then the console.
    sign_in_with_totp(page, portal + "/staff/", staff.email, FACTORY_PASSWORD, shots=shots)
    console = page.get_by_role("navigation", name="Staff console")
    expect(console).to_be_visible()
    shots(page, "staff-dashboard")

    # Approve the order that waits for a decision.
    console.get_by_role("link", name="Approvals").click()
    waiting = page.get_by_role("row").filter(has_text="tailspin-archive")
    expect(waiting).to_contain_text("Enterprise Review")
    shots(page, "approvals")
    waiting.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Order tailspin-archive approved; provisioning has started."
    )
    expect(page.get_by_text("No orders are waiting for approval.")).to_be_visible()

    # Retry the filespace LucidLink refused.
    console.get_by_role("link", name="Provisioning").click()
    failed = page.get_by_role("row").filter(has_text="tailspin-renders")
    expect(failed).to_contain_text("Error")
    shots(page, "failed-provisioning")
    failed.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("tailspin-renders is being retried.")

    # The real worker takes both to ready; the customer page shows it.
    for name in ("tailspin-archive", "tailspin-renders"):
        wait_until(lambda n=name: state_of(n) == Filespace.State.PROVISIONED, timeout=45)
    console.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="Tailspin Toys").click()
    filespaces = page.get_by_role("region", name="Filespaces and usage")
    for name in ("tailspin-archive", "tailspin-renders"):
        row = filespaces.get_by_role("row").filter(has_text=name)
        expect(row).to_contain_text("Ready to initialize")

    # Suspend the customer, with the reason kept for the audit log.
    page.get_by_label("Reason for suspending").fill("Invoice 2026-10 unpaid after reminders.")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_contain_text("Tailspin Toys is suspended.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suspended")
    shots(page, "customer-suspended")
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.SUSPENDED

    # The customer's owner sees the banner on every page and can no longer order.
    customer_page = new_context().new_page()
    customer_page.goto(portal + "/accounts/login/")
    customer_page.get_by_label("Email").fill(owner.user.email)
    customer_page.get_by_label(re.compile(r"^Password:?$")).fill(FACTORY_PASSWORD)
    customer_page.get_by_role("button", name="Sign In").click()
    banner = customer_page.get_by_role("alert").filter(has_text="account is suspended")
    expect(banner).to_contain_text("Tailspin Toys's account is suspended")
    shots(customer_page, "suspended-banner")
    customer_page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    expect(banner).to_be_visible()
    customer_page.get_by_role("link", name="Order Teams Standard").click()
    expect(customer_page.get_by_role("status")).to_contain_text(
        "Your organisation is suspended; contact support to order."
    )
