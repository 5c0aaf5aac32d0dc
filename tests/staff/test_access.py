"""Only staff with two factors reach the console; customers never see it."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

GET_PAGES = [
    ("staff:dashboard", []),
    ("staff:customers", []),
    ("staff:customers_csv", []),
    ("staff:customer", ["customer"]),
    ("staff:filespace", ["filespace"]),
    ("staff:orders", []),
    ("staff:filespaces", []),
    ("staff:plans", []),
    ("staff:plan_new", []),
    ("staff:plan_backtest", []),
    ("staff:plan_edit", ["plan"]),
    ("staff:audit", []),
]
POST_ACTIONS = [
    ("staff:customer_suspend", "customer"),
    ("staff:customer_resume", "customer"),
    ("staff:customer_terminate", "customer"),
    ("staff:order_approve", "order"),
    ("staff:order_reject", "order"),
    ("staff:filespace_retry", "filespace"),
    ("staff:filespace_fail", "filespace"),
    ("staff:filespace_delete", "filespace"),
    ("staff:plan_set_active", "plan"),
]


@pytest.fixture
def objects(filespace_factory, plan_factory):
    filespace = filespace_factory(state="error")
    return {
        "customer": filespace.customer.pk,
        "order": filespace.order_id,
        "filespace": filespace.pk,
        "plan": filespace.plan_id,
    }


def _url(name, args, objects):
    return reverse(name, args=[objects[a] for a in args])


@pytest.mark.parametrize(("name", "args"), GET_PAGES)
def test_a_customer_owner_gets_403_on_every_staff_page(client, member_factory, objects, name, args):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    response = client.get(_url(name, args, objects))
    assert response.status_code == 403


@pytest.mark.parametrize(("name", "kind"), POST_ACTIONS)
def test_a_customer_owner_cannot_run_any_staff_action(client, member_factory, objects, name, kind):
    from portal.audit.models import AuditEntry
    from portal.customers.models import Customer
    from provisioning.models import Filespace

    owner = member_factory(role="owner")
    client.force_login(owner.user)
    response = client.post(
        reverse(name, args=[objects[kind]]), {"reason": "because", "confirm": "x"}
    )
    assert response.status_code == 403
    assert AuditEntry.objects.count() == 0
    assert Customer.objects.get(pk=objects["customer"]).status == "active"
    assert Filespace.objects.get(pk=objects["filespace"]).state == "error"


@pytest.mark.parametrize(("name", "args"), GET_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, objects, name, args):
    response = client.get(_url(name, args, objects))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("name", "args"), GET_PAGES)
def test_staff_without_mfa_are_sent_to_set_it_up(client, staff_factory, objects, name, args):
    staff = staff_factory("nomfa@msp.example", mfa=False)
    client.force_login(staff)
    response = client.get(_url(name, args, objects))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_without_mfa_cannot_run_an_action_either(client, staff_factory, objects):
    from portal.customers.models import Customer

    staff = staff_factory("nomfa@msp.example", mfa=False)
    client.force_login(staff)
    response = client.post(
        reverse("staff:customer_suspend", args=[objects["customer"]]), {"reason": "x"}
    )
    assert response["Location"] == reverse("mfa_activate_totp")
    assert Customer.objects.get(pk=objects["customer"]).status == "active"


@pytest.mark.parametrize(("name", "args"), GET_PAGES)
def test_staff_with_mfa_see_every_page(staff_client, objects, name, args):
    assert staff_client.get(_url(name, args, objects)).status_code == 200


def test_an_inactive_staff_account_is_refused(client, staff_factory, objects):
    staff = staff_factory("gone@msp.example")
    client.force_login(staff)
    staff.is_active = False
    staff.save()
    response = client.get(reverse("staff:dashboard"))
    assert response.status_code in (302, 403)
    assert b"What needs attention" not in response.content


def test_the_staff_link_shows_for_staff_only(client, staff_client, member_factory):
    assert reverse("staff:dashboard").encode() in staff_client.get(reverse("home")).content
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    assert reverse("staff:dashboard").encode() not in client.get(reverse("dashboard")).content
