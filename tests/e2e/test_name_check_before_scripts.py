"""A name typed before the page's scripts have loaded is still checked.

On a slow connection (and in a browser that fills a field right after the click that opened the
page) the typing can happen before htmx has attached its `input` trigger. That input event is
gone; the check must still run for what the field holds once htmx starts.
"""

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, sign_in


def test_a_name_typed_before_htmx_loads_is_checked_once_it_does(
    portal, plan, member_factory, user_factory, page
):
    owner = member_factory(role="owner", user=user_factory("early@typist.example"))
    owner.user.set_password(PASSWORD)
    owner.user.save()
    sign_in(page, portal, "early@typist.example", PASSWORD)
    expect(page.get_by_role("heading", name=owner.customer.name)).to_be_visible()

    held: list = []
    page.route("**/js/htmx.min.js", lambda route: held.append(route))
    page.goto(portal + f"/orders/new/{plan.slug}/", wait_until="commit")
    page.get_by_label("Filespace name").fill("media")
    assert page.evaluate("typeof window.htmx") == "undefined", "htmx was not held back"
    expect(page.locator("#name-check")).not_to_contain_text("available", ignore_case=True)

    page.wait_for_function("() => true")  # let the route callback run
    assert held, "the page never asked for htmx"
    held[0].continue_()
    expect(page.locator("#name-check")).to_contain_text("available", ignore_case=True)
    expect(page.locator("#name-check")).to_contain_text("media")
