"""The header's main navigation: which links a person sees, and which one is the current page.

One list for every page, built here rather than in base.html, so the rule for the current page
(the link whose section is the longest prefix of the path) is written once and tested.
Staff see one "Staff console" link: the console's own navigation leads to billing, API keys and
the Django admin, which keeps the header on one line at 1280 px.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from portal.customers.selectors import current_membership


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    # Path prefixes that belong to this item's section, besides its own URL.
    sections: tuple[str, ...] = ()
    current: bool = False

    def prefixes(self) -> tuple[str, ...]:
        return (self.url, *self.sections)


def nav_items_for(request: HttpRequest) -> list[NavItem]:
    """The links a person may follow, the current page's section marked."""
    items = _visible_items(request)
    return _mark_current(items, request.path)


def _visible_items(request: HttpRequest) -> list[NavItem]:
    items = [NavItem("Plans", reverse("plans:list"))]
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return items
    membership = current_membership(request)
    if membership is not None:
        items += [
            NavItem("Dashboard", reverse("dashboard"), sections=("/filespaces/",)),
            NavItem("Orders", reverse("orders:list")),
            NavItem("Team", reverse("customers:team")),
        ]
        if membership.can_manage:
            items += [
                NavItem("Activity", reverse("audit:activity")),
                NavItem("API", reverse("apikeys:customer_keys")),
            ]
        if membership.can_see_billing:
            items += [
                NavItem("Usage", reverse("billing:usage")),
                NavItem(
                    "Invoices", reverse("billing:invoices"), sections=(reverse("billing:details"),)
                ),
                NavItem(
                    "Payments",
                    reverse("payments:invoices"),
                    sections=(reverse("payments:payment_method"),),
                ),
            ]
    if user.is_staff:
        items.append(
            NavItem(
                "Staff console",
                reverse("staff:dashboard"),
                sections=(
                    reverse("billing:staff_overview"),
                    reverse("apikeys:msp_keys"),
                ),
            )
        )
    return items


def _mark_current(items: list[NavItem], path: str) -> list[NavItem]:
    best, best_length = None, 0
    for index, item in enumerate(items):
        for prefix in item.prefixes():
            if path.startswith(prefix) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return [
        NavItem(item.label, item.url, item.sections, current=index == best)
        for index, item in enumerate(items)
    ]


def main_navigation(request: HttpRequest) -> dict:
    """Context processor: `nav_items`, evaluated only when a template shows the header."""
    return {
        "nav_items": lambda: nav_items_for(request),
        "staff_nav_items": lambda: staff_nav_items(request),
    }


def staff_nav_items(request: HttpRequest) -> list[NavItem]:
    """The staff console's own navigation, the current page marked."""
    items = [
        NavItem("Attention", reverse("staff:dashboard")),
        NavItem("Customers", reverse("staff:customers")),
        NavItem("Approvals", reverse("staff:orders")),
        NavItem("Plan changes", reverse("staff:plan_changes")),
        NavItem("Provisioning", reverse("staff:filespaces")),
        NavItem("Orphans", reverse("staff:orphans")),
        NavItem("Plans", reverse("staff:plans")),
        NavItem("Billing", reverse("billing:staff_overview")),
        NavItem("Payments", reverse("payments:staff_payments")),
        NavItem("Audit log", reverse("staff:audit")),
        NavItem("API keys", reverse("apikeys:msp_keys")),
        NavItem("Django admin", reverse("admin:index")),
    ]
    # The dashboard's URL is every console page's prefix: mark it only on itself.
    marked = _mark_current(items[1:], request.path)
    first = NavItem(items[0].label, items[0].url, current=request.path == items[0].url)
    return [first, *marked]
