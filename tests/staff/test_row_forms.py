"""A filespace's staff actions live on its own staff page (the customer page links each row
there): the forms post to that filespace's actions, with the page's CSRF token, and come back."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _forms(body: str) -> dict[str, str]:
    """action -> CSRF token of each staff POST form in the page (not the header's sign-out)."""
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', body, re.S)
    return {
        action: re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', inner).group(1)
        for action, inner in forms
        if action.startswith("/staff/")
    }


def test_the_customer_page_links_each_filespace_to_its_page_and_has_no_row_forms(
    staff_client, customer_factory, filespace_factory
):
    customer = customer_factory()
    failed = filespace_factory(customer=customer, state="error", remote_id="fs-err", name="broken")
    active = filespace_factory(customer=customer, state="active", remote_id="fs-ok", name="fine")

    body = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()

    for filespace in (failed, active):
        assert f'href="{reverse("staff:filespace", args=[filespace.pk])}"' in body
        assert reverse("staff:filespace_delete", args=[filespace.pk]) not in body


def test_each_filespace_page_posts_to_its_own_actions_with_a_valid_token(
    staff_client, customer_factory, filespace_factory
):
    customer = customer_factory()
    failed = filespace_factory(customer=customer, state="error", remote_id="fs-err", name="broken")
    active = filespace_factory(customer=customer, state="active", remote_id="fs-ok", name="fine")
    staff_client.handler.enforce_csrf_checks = True

    pages = {
        fs.pk: staff_client.get(reverse("staff:filespace", args=[fs.pk])).content.decode()
        for fs in (failed, active)
    }
    failed_forms, active_forms = _forms(pages[failed.pk]), _forms(pages[active.pk])

    assert set(failed_forms) == {
        reverse("staff:filespace_retry", args=[failed.pk]),
        reverse("staff:filespace_delete", args=[failed.pk]),
    }
    assert set(active_forms) == {
        reverse("staff:filespace_fail", args=[active.pk]),
        reverse("staff:filespace_delete", args=[active.pk]),
    }
    assert f'href="{reverse("staff:filespace_change_plan", args=[active.pk])}"' in pages[active.pk]
    action = reverse("staff:filespace_fail", args=[active.pk])
    refused = staff_client.post(action, {"reason": "x", "csrfmiddlewaretoken": "forged" * 8})
    assert refused.status_code == 403
    page_url = reverse("staff:filespace", args=[active.pk])
    answered = staff_client.post(
        action, {"reason": "x", "csrfmiddlewaretoken": active_forms[action], "next": page_url}
    )
    assert answered.status_code != 403


def test_the_filespace_page_shows_its_facts_and_latest_events(
    staff_client, staff_user, filespace_factory
):
    from provisioning.models import ProvisioningEvent

    filespace = filespace_factory(state="error", last_error="Region unavailable")
    for number in range(35):
        ProvisioningEvent.objects.create(
            filespace=filespace, kind="retry", message=f"attempt {number:02d}", actor=staff_user
        )

    body = staff_client.get(reverse("staff:filespace", args=[filespace.pk])).content.decode()

    assert filespace.customer.name in body and "Region unavailable" in body
    assert "attempt 34" in body and "attempt 05" in body and "attempt 04" not in body
    assert staff_client.get(reverse("staff:filespace", args=[999999])).status_code == 404


def test_customers_cannot_open_a_staff_filespace_page(client, member_factory, filespace_factory):
    owner = member_factory(role="owner")
    filespace = filespace_factory(customer=owner.customer)
    client.force_login(owner.user)
    assert client.get(reverse("staff:filespace", args=[filespace.pk])).status_code == 403
