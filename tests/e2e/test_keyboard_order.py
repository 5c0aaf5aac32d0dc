"""Keyboard only: sign in and order a filespace with Tab, Enter, Space and typing.

No mouse click and no `fill`: every control is reached with Tab from the one before, and each
control the journey stops on must show where the focus is (an outline or a shadow), as a person
who cannot use a mouse needs to see it.
"""

from playwright.sync_api import expect

from portal.orders.models import Order
from tests.e2e.conftest import PASSWORD

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
  return {
    tag: el.tagName.toLowerCase(),
    name: el.getAttribute("name") || "",
    text: (el.getAttribute("aria-label") || el.innerText || label || "").trim(),
    label: label.trim(),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== "none",
  };
}"""


def tab_to(page, describe: str, matches, *, limit: int = 60) -> dict:
    """Press Tab until the focused control `matches`; it must show a visible focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused and matches(focused):
            assert focused["outline"] or focused["shadow"], f"no visible focus on {describe}"
            return focused
    raise AssertionError(f"Tab never reached {describe}")


def field(label: str):
    return lambda f: f["label"].rstrip(":").strip().lower() == label.lower()


def button(text: str):
    return lambda f: f["tag"] in ("button", "a") and f["text"].lower() == text.lower()


def test_a_customer_signs_in_and_orders_a_filespace_with_the_keyboard_alone(
    portal, plan, member_factory, user_factory, page, shots
):
    shots.journey = "keyboard-order"
    owner = member_factory(role="owner", user=user_factory("kim@keys.example"))
    owner.user.set_password(PASSWORD)
    owner.user.save()

    page.goto(portal + "/accounts/login/")
    tab_to(page, "the email field", field("Email"))
    page.keyboard.type("kim@keys.example")
    tab_to(page, "the password field", field("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=owner.customer.name)).to_be_visible()

    tab_to(page, "Order a filespace", button("Order a filespace"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Plans", exact=True)).to_be_visible()
    tab_to(page, "the plan's Order link", button("Order Teams Standard"))
    shots(page, "plan-focused")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Order a filespace: Teams Standard")).to_be_visible()
    tab_to(page, "the filespace name", field("Filespace name"))
    page.keyboard.type("keys")
    expect(page.locator("#name-check")).to_contain_text("available", ignore_case=True)
    tab_to(page, "the region", field("Region"))
    page.keyboard.press("F")  # type-ahead: "Frankfurt (eu-de)"
    expect(page.get_by_label("Region")).to_have_value("eu-de")
    tab_to(page, "the expected storage", field("Expected storage (GB)"))
    page.keyboard.type("750")
    focused = tab_to(page, "Review order", button("Review order"))
    assert focused["tag"] == "button"
    shots(page, "order-form")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_text("eu-de")).to_be_visible()
    tab_to(page, "Place order", button("Place order"))
    shots(page, "review")
    page.keyboard.press("Space")

    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    order = Order.objects.get(customer=owner.customer)
    assert (order.name, order.region) == ("keys", "eu-de")
    shots(page, "placed")


def test_a_mistake_in_the_order_form_is_announced_and_reachable_by_keyboard(
    portal, plan, member_factory, user_factory, page
):
    owner = member_factory(role="owner", user=user_factory("lee@keys.example"))
    owner.user.set_password(PASSWORD)
    owner.user.save()
    page.goto(portal + "/accounts/login/")
    tab_to(page, "the email field", field("Email"))
    page.keyboard.type("lee@keys.example")
    tab_to(page, "the password field", field("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=owner.customer.name)).to_be_visible()

    page.goto(portal + f"/orders/new/{plan.slug}/")
    tab_to(page, "the expected storage", field("Expected storage (GB)"))
    page.keyboard.type("-5")
    page.keyboard.press("Enter")

    # The summary is announced (role=alert) and has the focus; its link leads to the field.
    summary = page.get_by_role("alert").filter(has_text="problem")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    tab_to(page, "the first error's link", lambda f: f["tag"] == "a")
    page.keyboard.press("Enter")
    focused = page.evaluate(FOCUSED)
    assert focused["tag"] in ("input", "select"), focused
