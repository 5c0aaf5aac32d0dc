"""The main customer and staff pages fit a 390 px phone: nothing wider than the viewport.

No worker is needed: the rows are written straight to the database, with long names and every
kind of row a table shows, so a page that only overflows with real data is caught here.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.apikeys.services import apikey_create
from provisioning.services import ordering
from tests.e2e.conftest import sign_in, sign_in_with_totp

FACTORY_PASSWORD = "correct-horse-battery-9"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 860}

CUSTOMER_PAGES = [
    "/dashboard/",
    "/filespaces/",
    "/orders/",
    "/orders/new/teams-standard/",
    "/organisation/team/",
    "/activity/",
    "/api-keys/",
    "/billing/usage/",
    "/billing/invoices/",
    "/plans/",
]
STAFF_PAGES = [
    "/staff/",
    "/staff/customers/",
    "/staff/orders/",
    "/staff/filespaces/",
    "/staff/orphans/",
    "/staff/plans/",
    "/staff/audit/",
    "/billing/staff/",
]


@pytest.fixture
def busy_customer(plan, plan_factory, customer_factory, member_factory, user_factory,
                  filespace_factory):  # fmt: skip
    """An organisation with long names, filespaces in several states and an order to approve."""
    customer = customer_factory(name="Northwind Traders International Post-Production",
                                name_prefix="northwindtraders")  # fmt: skip
    user = user_factory("olivia.longname@northwind-traders.example")
    owner = member_factory(role="owner", customer=customer, user=user)
    filespace_factory(customer=customer, plan=plan, name="archive-of-every-project-2019-2026",
                      state="provisioned", remote_id="fs-archive")  # fmt: skip
    filespace_factory(customer=customer, plan=plan, name="renders", state="requested")
    filespace_factory(customer=customer, plan=plan, name="broken", state="error")
    review = plan_factory(name="Enterprise with a review by our team", slug="enterprise-review",
                          requires_approval=True)  # fmt: skip
    ordering.order_place(
        customer=customer, plan=review, name="colour-grading-masters", provider="IBM",
        region="us-east", idempotency_key="layout-review", placed_by=owner.user,
    )  # fmt: skip
    apikey_create(name="Render farm automation key", created_by=owner.user, customer=customer)
    return owner


def page_width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def assert_fits(page, paths: list[str], base: str) -> None:
    too_wide = {}
    for path in paths:
        response = page.goto(base + path)
        assert response.ok, f"{path}: HTTP {response.status}"
        scroll_width, inner_width = page_width(page)
        if scroll_width > inner_width:
            too_wide[path] = scroll_width
    assert too_wide == {}, f"pages wider than {page.viewport_size['width']} px: {too_wide}"


def test_customer_pages_fit_a_phone_and_the_menu_folds_behind_a_button(
    portal, busy_customer, context, shots
):
    page = context.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, portal, busy_customer.user.email, FACTORY_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Northwind Traders")
    assert_fits(page, CUSTOMER_PAGES, portal)
    for path, name in (("/dashboard/", "dashboard"), ("/filespaces/", "filespaces")):
        page.goto(portal + path)
        shots(page, f"{name}-390")

    # The menu is folded: the button opens it, and the current page is marked.
    page.goto(portal + "/orders/")
    main_nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(main_nav).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(main_nav.get_by_role("link", name="Orders")).to_have_attribute("aria-current", "page")
    main_nav.get_by_role("link", name="Dashboard").click()

    # The filespace table is a stack of cards: every status badge is on screen.
    for badge in page.locator("main .badge").all():
        box = badge.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_customer_header_stays_on_one_line_on_a_laptop(portal, busy_customer, context, shots):
    page = context.new_page()
    page.set_viewport_size(LAPTOP)
    sign_in(page, portal, busy_customer.user.email, FACTORY_PASSWORD)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    header = page.locator(".site-header .header-inner").bounding_box()
    brand = page.locator(".site-header .brand").bounding_box()
    # One line: the header is no taller than its tallest item plus its padding.
    assert header["height"] < brand["height"] + 40, header
    for path, name in (("/dashboard/", "dashboard"), ("/filespaces/", "filespaces")):
        page.goto(portal + path)
        shots(page, f"{name}-1280")


def test_staff_pages_fit_a_phone_with_approve_and_reject_on_screen(
    portal, busy_customer, staff, context, shots
):
    page = context.new_page()
    page.set_viewport_size(PHONE)
    sign_in_with_totp(page, portal + "/staff/", staff.email, FACTORY_PASSWORD)
    expect(page.get_by_role("navigation", name="Staff console")).to_be_visible()
    customer_page = f"/staff/customers/{busy_customer.customer_id}/"
    broken = busy_customer.customer.filespaces.get(state="error")
    filespace_page = f"/staff/filespaces/{broken.pk}/"
    assert_fits(page, [*STAFF_PAGES, customer_page, filespace_page], portal)
    for path, name in ((customer_page, "staff-customer"), (filespace_page, "staff-filespace")):
        page.goto(portal + path)
        shots(page, f"{name}-390")
    page.set_viewport_size(LAPTOP)
    for path, name in ((customer_page, "staff-customer"), (filespace_page, "staff-filespace")):
        page.goto(portal + path)
        shots(page, f"{name}-1280")
    page.set_viewport_size(PHONE)

    page.goto(portal + "/staff/orders/")
    for name in ("Approve", "Reject"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"], (name, box)
