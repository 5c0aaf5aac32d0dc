"""The plan change pages: customer, staff console, and the API; every URL scoped to its tenant."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import PlanChange
from portal.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(plan_factory):
    cheap = plan_factory(name="Teams", price_per_unit_month=Decimal("0.02"))
    dear = plan_factory(name="Teams Plus", price_per_unit_month=Decimal("0.03"))
    other = plan_factory(name="Own AWS", provider="AWS", storage_owner="customer")
    return cheap, dear, other


@pytest.fixture
def filespace(filespace_factory, owner, plans):
    return filespace_factory(
        customer=owner.customer, plan=plans[0], state="active", remote_id="fs-1"
    )


def _url(filespace, name="filespaces:change_plan"):
    return reverse(name, args=[filespace.pk])


def test_the_page_lists_only_fitting_plans_and_previews_the_difference(
    owner_client, filespace, plans
):
    _cheap, dear, _other = plans

    page = owner_client.get(_url(filespace)).content.decode()
    assert "Teams Plus" in page and "Own AWS" not in page
    preview = owner_client.get(_url(filespace), {"plan": dear.pk}).content.decode()

    assert "Difference per month" in preview and "Move to Teams Plus now" in preview
    detail = owner_client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "Change plan" in detail


def test_confirming_moves_the_filespace(owner_client, filespace, plans):
    response = owner_client.post(_url(filespace), {"plan": plans[1].pk})

    assert response.status_code == 302
    filespace.refresh_from_db()
    assert filespace.plan_id == plans[1].pk
    page = owner_client.get(response["Location"]).content.decode()
    assert "on Teams Plus from now on" in page


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999", "", "<script>"])
def test_hostile_plan_values_are_a_message_never_a_500(owner_client, filespace, plans, value):
    shown = owner_client.get(_url(filespace), {"plan": value})
    posted = owner_client.post(_url(filespace), {"plan": value})

    assert shown.status_code == 400 and "Choose" in shown.content.decode()
    assert posted.status_code == 302
    assert "Choose" in owner_client.get(posted["Location"]).content.decode()
    filespace.refresh_from_db()
    assert filespace.plan_id == plans[0].pk


def test_a_plan_that_does_not_fit_cannot_be_posted(owner_client, filespace, plans):
    owner_client.post(_url(filespace), {"plan": plans[2].pk})

    filespace.refresh_from_db()
    assert filespace.plan_id == plans[0].pk


def test_a_member_cannot_change_the_plan(client, member_factory, filespace, plans):
    member = member_factory(role="member", customer=filespace.customer)
    client.force_login(member.user)

    response = client.post(_url(filespace), {"plan": plans[1].pk})

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    filespace.refresh_from_db()
    assert filespace.plan_id == plans[0].pk


def test_another_customers_filespace_is_a_404_on_every_plan_change_url(
    client, member_factory, filespace, plans
):
    stranger = member_factory(role="owner")
    client.force_login(stranger.user)

    assert client.get(_url(filespace)).status_code == 404
    assert client.get(_url(filespace), {"plan": plans[1].pk}).status_code == 404
    assert client.post(_url(filespace), {"plan": plans[1].pk}).status_code == 404
    filespace.refresh_from_db()
    assert filespace.plan_id == plans[0].pk


def test_an_approval_plan_is_asked_for_and_staff_decide_it(
    owner_client, filespace, plans, user_factory, client
):
    from django.test import Client

    dear = plans[1]
    dear.plan_change_needs_approval = True
    dear.save()
    preview = owner_client.get(_url(filespace), {"plan": dear.pk}).content.decode()
    assert "Ask to move to Teams Plus" in preview
    owner_client.post(_url(filespace), {"plan": dear.pk})
    change = PlanChange.objects.get()
    assert change.state == "pending"
    assert "waiting for approval" in owner_client.get(_url(filespace)).content.decode()

    staff = Client()
    staff.force_login(user_factory("staff@msp.example", is_staff=True, mfa=True))
    listing = staff.get(reverse("staff:plan_changes")).content.decode()
    assert filespace.remote_name in listing and "Approve" in listing
    staff.post(reverse("staff:plan_change_approve", args=[change.pk]))

    change.refresh_from_db()
    assert change.state == "applied"
    filespace.refresh_from_db()
    assert filespace.plan_id == dear.pk


def test_staff_reject_with_a_reason(owner_client, filespace, plans, user_factory):
    from django.test import Client

    plans[1].plan_change_needs_approval = True
    plans[1].save()
    owner_client.post(_url(filespace), {"plan": plans[1].pk})
    change = PlanChange.objects.get()
    staff = Client()
    staff.force_login(user_factory("staff@msp.example", is_staff=True, mfa=True))

    staff.post(reverse("staff:plan_change_reject", args=[change.pk]), {"reason": "Contract"})

    change.refresh_from_db()
    assert (change.state, change.reason) == ("rejected", "Contract")
    assert AuditEntry.objects.filter(action="filespace.plan_change_rejected").exists()


def test_staff_change_a_plan_from_the_console(filespace, plans, user_factory, client):
    client.force_login(user_factory("staff@msp.example", is_staff=True, mfa=True))
    url = _url(filespace, "staff:filespace_change_plan")

    assert "Move to Teams Plus now" in client.get(url, {"plan": plans[1].pk}).content.decode()
    assert client.get(url, {"plan": "x"}).status_code == 400
    client.post(url, {"plan": plans[1].pk})

    filespace.refresh_from_db()
    assert filespace.plan_id == plans[1].pk


def test_a_customer_owner_cannot_reach_the_staff_plan_change_urls(owner_client, filespace, plans):
    plans[1].plan_change_needs_approval = True
    plans[1].save()
    owner_client.post(_url(filespace), {"plan": plans[1].pk})
    change = PlanChange.objects.get()

    for url in (
        reverse("staff:plan_changes"),
        _url(filespace, "staff:filespace_change_plan"),
    ):
        assert owner_client.get(url).status_code in (302, 403, 404)
    owner_client.post(reverse("staff:plan_change_approve", args=[change.pk]))
    owner_client.post(_url(filespace, "staff:filespace_change_plan"), {"plan": plans[1].pk})

    change.refresh_from_db()
    assert change.state == "pending"


def test_the_api_changes_the_plan_for_its_own_customer_only(
    filespace, plans, member_factory, customer_factory
):
    from rest_framework.test import APIClient

    from portal.apikeys.services import apikey_create

    def client_for(customer):
        admin = member_factory(role="admin", customer=customer).user
        _key, raw = apikey_create(name="k", created_by=admin, customer=customer)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return api

    url = reverse("api:filespace-plan-change", args=[filespace.pk])
    stranger = client_for(customer_factory())
    assert stranger.post(url, {"plan": plans[1].pk}, format="json").status_code == 404

    own = client_for(filespace.customer)
    assert own.post(url, {"plan": "x"}, format="json").status_code == 400
    assert own.post(url, {"plan": plans[2].pk}, format="json").status_code == 400
    answer = own.post(url, {"plan": plans[1].pk}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "applied" and answer.json()["to_plan"] == plans[1].pk
    filespace.refresh_from_db()
    assert filespace.plan_id == plans[1].pk
