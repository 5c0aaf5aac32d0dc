"""The header's navigation: one current-page mark, the menu button, staff's single console link."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def current_links(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', html)


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/dashboard/", "Dashboard"),
        ("/orders/", "Orders"),
        ("/organisation/team/", "Team"),
        ("/billing/usage/", "Usage"),
        ("/billing/invoices/", "Invoices"),
        ("/billing/payments/", "Payments"),
        ("/api-keys/", "API"),
        ("/activity/", "Activity"),
    ],
)
def test_the_current_page_is_marked_once_in_the_main_navigation(owner_client, path, label):
    html = owner_client.get(path).content.decode()
    assert current_links(html) == [label]


def test_a_filespace_page_marks_the_dashboard(owner_client, owner, filespace_factory):
    filespace = filespace_factory(customer=owner.customer)
    html = owner_client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert current_links(html) == ["Dashboard"]


def test_the_menu_button_controls_the_menu(owner_client):
    html = owner_client.get("/dashboard/").content.decode()
    assert re.search(
        r'<button type="button" class="nav-toggle[^"]*" aria-expanded="false" '
        r'aria-controls="site-menu">',
        html,
    )
    assert 'id="site-menu"' in html


@pytest.fixture
def staff_client(client, user_factory):
    from allauth.mfa.totp.internal.auth import TOTP

    staff = user_factory("ops@msp.example", is_staff=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client.force_login(staff)
    return client


def test_staff_see_one_console_link_and_its_pages_mark_it(staff_client):
    client = staff_client
    html = client.get(reverse("billing:staff_overview")).content.decode()
    main_nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r">([^<]+)</a>", main_nav) == ["Plans", "Staff console"]
    assert current_links(main_nav) == ["Staff console"]
    console_nav = html.split('aria-label="Staff console"', 1)[1].split("</nav>", 1)[0]
    assert current_links(console_nav) == ["Billing"]


def test_the_staff_dashboard_marks_only_attention(staff_client):
    html = staff_client.get(reverse("staff:dashboard")).content.decode()
    console_nav = html.split('aria-label="Staff console"', 1)[1].split("</nav>", 1)[0]
    assert current_links(console_nav) == ["Attention"]
