"""Journey 1: a new customer signs up, orders a filespace and watches it become ready, live."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from provisioning.models import Filespace
from tests.e2e.conftest import PASSWORD, PASSWORD_LABEL, mail_link

pytestmark = pytest.mark.worker


def test_a_new_customer_signs_up_orders_and_watches_the_filespace_become_ready(
    portal, worker, sim, plan, page, shots
):
    # Long enough that the filespace page shows the timeline before it is ready, even on a
    # loaded machine where each page also runs the accessibility check.
    sim.set_delay(8)
    # Sign up; nothing is reachable until the address is verified.
    page.goto(portal + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill("dana@studio.example")
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    shots(page, "signup")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@studio.example"]

    # The link from the email confirms the address and signs the person in.
    page.goto(portal + mail_link(mail.outbox[0], "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()

    # A verified person without an organisation is asked to create one.
    expect(page.get_by_role("heading", name="Set up your organisation")).to_be_visible()
    page.get_by_label("Company name").fill("Northwind Studio")
    page.get_by_label("Country").select_option("GB")
    shots(page, "onboarding")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Northwind Studio")).to_be_visible()
    expect(page.get_by_text("No filespaces yet.")).to_be_visible()

    # Order: plan, details, review, place.
    page.get_by_role("link", name="Order a filespace").first.click()
    shots(page, "plans")
    page.get_by_role("link", name="Order Teams Standard").click()
    page.get_by_label("Filespace name").fill("media")
    expect(page.locator("#name-check")).to_contain_text("available", ignore_case=True)
    page.get_by_label("Region").select_option("eu-de")
    page.get_by_label("Expected storage (GB)").fill("2000")
    shots(page, "order-form")
    page.get_by_role("button", name="Review order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_text("eu-de")).to_be_visible()
    shots(page, "order-review")
    page.get_by_role("button", name="Place order").click()

    # The filespace page: the timeline advances to ready by itself, with no reload.
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    page.evaluate("window.__journeyMarker = 'same document'")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    ready = page.get_by_role("listitem").filter(has_text="Ready to connect")
    expect(ready).to_contain_text("Next:")  # Not ready yet when the page first showed it.
    shots(page, "timeline-provisioning")

    expect(ready).to_contain_text("Done:", timeout=45_000)
    guide = page.get_by_role("region", name="Connect")
    expect(guide).to_contain_text("Step 1 of 6: Initialize the filespace")
    assert page.evaluate("window.__journeyMarker") == "same document"
    assert navigations == []
    filespace = Filespace.objects.get(customer__name="Northwind Studio")
    assert filespace.state == Filespace.State.PROVISIONED
    assert filespace.remote_name == f"{filespace.customer.name_prefix}-media"
    assert filespace.region == "eu-de"

    # The guide starts at initialization; the kit comes once it can
    # be followed (tests/e2e/test_first_hour.py goes on from here to a mounted filespace).
    expect(guide.get_by_role("button", name="Initialize for me")).to_be_visible()
    assert "lucid link" not in guide.inner_text()
    shots(page, "connection-guide")
