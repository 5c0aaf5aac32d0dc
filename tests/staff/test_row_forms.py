"""The staff customer page's row forms (built from one reversed pattern and the page's one CSRF
token, portal.templatetags.rows) point at each row's own action and pass the CSRF check."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _forms(body: str) -> dict[str, str]:
    """action -> CSRF token of each POST form in the page."""
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', body, re.S)
    return {
        action: re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', inner).group(1)
        for action, inner in forms
    }


def test_each_filespace_row_posts_to_its_own_actions_with_a_valid_token(
    staff_client, customer_factory, filespace_factory
):
    customer = customer_factory()
    failed = filespace_factory(customer=customer, state="error", remote_id="fs-err", name="broken")
    active = filespace_factory(customer=customer, state="active", remote_id="fs-ok", name="fine")
    staff_client.handler.enforce_csrf_checks = True

    body = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()
    forms = _forms(body)

    for name, filespace in [
        ("staff:filespace_retry", failed),
        ("staff:filespace_delete", failed),
        ("staff:filespace_fail", active),
        ("staff:filespace_delete", active),
    ]:
        assert reverse(name, args=[filespace.pk]) in forms
    assert reverse("staff:filespace_fail", args=[failed.pk]) not in forms
    assert f'href="{reverse("staff:filespace_change_plan", args=[active.pk])}"' in body
    action = reverse("staff:filespace_fail", args=[active.pk])
    refused = staff_client.post(action, {"reason": "x", "csrfmiddlewaretoken": "forged" * 8})
    assert refused.status_code == 403
    answered = staff_client.post(action, {"reason": "x", "csrfmiddlewaretoken": forms[action]})
    assert answered.status_code != 403
