import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    ["dashboard", "customers:team", "orders:list", "plans:list", "account_email", "mfa_index"],
)
def test_each_signed_in_page_renders_for_an_owner(owner_client, plan_factory, name):
    plan_factory()
    response = owner_client.get(reverse(name))
    assert response.status_code == 200
    assert b"<h1" in response.content


def test_the_order_form_renders_for_an_owner(owner_client, plan_factory):
    plan = plan_factory()
    response = owner_client.get(reverse("orders:new", args=[plan.slug]))
    assert response.status_code == 200
    assert b'name="name"' in response.content
