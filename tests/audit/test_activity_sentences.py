"""The activity log reads as sentences, and covers what the team itself does."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.apikeys.services import apikey_create
from portal.audit.models import AuditEntry
from portal.audit.presenters import SENTENCES, tell
from portal.audit.services import audit_record
from portal.customers import services as customers
from provisioning.services.ordering import order_place

pytestmark = pytest.mark.django_db

RAW_CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b")


@pytest.fixture
def team(member_factory, user_factory):
    owner = member_factory(role="owner", user=user_factory("olivia@fabrikam.example"))
    return owner


def _order(team, plan_factory, **plan_fields):
    plan = plan_factory(name="Teams Standard", **plan_fields)
    return order_place(
        customer=team.customer, plan=plan, name="renders", provider="IBM", region="us-east",
        idempotency_key="k1", placed_by=team.user,
    )  # fmt: skip


def test_placing_an_order_is_told_with_the_plan_and_place(team, plan_factory):
    order = _order(team, plan_factory)
    entry = AuditEntry.objects.get(action="order.placed")
    assert entry.customer == team.customer
    told = tell(entry)
    assert told.sentence == (
        f"olivia@fabrikam.example ordered the filespace {order.remote_name} "
        "(Teams Standard, IBM us-east)."
    )


def test_an_order_that_needs_approval_says_it_waits(team, plan_factory):
    _order(team, plan_factory, requires_approval=True)
    sentence = tell(AuditEntry.objects.get(action="order.placed")).sentence
    assert sentence.endswith("; it waits for approval.")


def test_inviting_and_joining_are_told(team, user_factory):
    _invitation, token = customers.invitation_create(
        customer=team.customer, email="Sam@Fabrikam.example", role="admin", invited_by=team.user
    )
    sam = user_factory("sam@fabrikam.example")
    customers.invitation_accept(token=token, user=sam)
    sentences = [tell(e).sentence for e in AuditEntry.objects.order_by("id")]
    assert sentences == [
        "olivia@fabrikam.example invited sam@fabrikam.example to join as admin.",
        "sam@fabrikam.example joined the organisation as admin.",
    ]


def test_revoking_an_invitation_removing_and_changing_roles_are_told(team, member_factory):
    invitation, _token = customers.invitation_create(
        customer=team.customer, email="x@fabrikam.example", role="member", invited_by=team.user
    )
    customers.invitation_revoke(invitation=invitation, by=team.user)
    customers.invitation_revoke(invitation=invitation, by=team.user)  # a second click
    bob = member_factory(role="member", customer=team.customer)
    customers.membership_change_role(membership=bob, role="admin", acting=team)
    customers.membership_remove(membership=bob, acting=team)
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == [
        "invitation.sent", "invitation.revoked", "member.role_changed", "member.removed",
    ]  # fmt: skip
    told = [tell(e).sentence for e in entries[1:]]
    assert told == [
        "olivia@fabrikam.example withdrew the invitation to x@fabrikam.example.",
        f"olivia@fabrikam.example changed {bob.user.email}'s role from member to admin.",
        f"olivia@fabrikam.example removed {bob.user.email} from the organisation.",
    ]


def test_a_refused_change_writes_no_entry(team):
    with pytest.raises(ValidationError):
        customers.membership_change_role(membership=team, role="member", acting=team)
    assert not AuditEntry.objects.exists()


def test_creating_an_organisation_is_told(user_factory):
    user = user_factory("new@contoso.example")
    customers.customer_create(user=user, name="Contoso", billing_email="a@b.example", country="GB")
    told = tell(AuditEntry.objects.get(action="customer.created"))
    assert told.sentence == "new@contoso.example created the organisation Contoso."
    assert told.details == ("Country: GB",)


def test_an_api_key_is_told_without_its_code(team):
    apikey_create(name="Render farm", created_by=team.user, customer=team.customer)
    told = tell(AuditEntry.objects.get(action="apikey.created"))
    assert told.sentence == "olivia@fabrikam.example created an API key named “Render farm”."
    assert told.details == ()  # "kind: — → customer" and the prefix say nothing to a reader


def test_staff_are_named_as_the_msp_to_customers_and_by_email_to_staff(
    team, user_factory, settings
):
    settings.MSP_NAME = "Northwind IT"
    staff = user_factory("ops@northwind.example", is_staff=True)
    entry = audit_record(
        actor=staff, action="customer.suspended", customer=team.customer, target=team.customer,
        before={"status": "active"}, after={"status": "suspended"}, note="Unpaid invoice",
    )  # fmt: skip
    entry = AuditEntry.objects.select_related("actor").get(pk=entry.pk)
    for_customer = tell(entry)
    assert for_customer.sentence == f"Northwind IT staff suspended the account {team.customer}."
    assert for_customer.details == ("Status: active → suspended",)
    assert for_customer.note == "Unpaid invoice"
    assert tell(entry, for_staff=True).actor == "ops@northwind.example"


def test_the_system_is_the_portal(team):
    entry = audit_record(actor=None, action="customer.terminated", customer=team.customer,
                         target=team.customer)  # fmt: skip
    assert tell(entry).sentence == f"The portal terminated the account {team.customer}."


def test_an_action_without_a_sentence_still_reads_as_words(team):
    entry = audit_record(actor=team.user, action="filespace.cache_resized", customer=team.customer)
    assert tell(entry).sentence == "olivia@fabrikam.example: filespace cache resized."


def test_every_action_the_code_writes_has_a_sentence():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    written = set()
    for folder in ("portal", "provisioning", "billing"):
        for path in (root / folder).rglob("*.py"):
            written |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    written |= {"plan.deactivated"}  # written as a conditional expression
    assert written - set(SENTENCES) == set()


def test_the_activity_page_shows_sentences_not_codes(client, team, plan_factory):
    _order(team, plan_factory)
    customers.invitation_create(
        customer=team.customer, email="sam@fabrikam.example", role="member", invited_by=team.user
    )
    apikey_create(name="Render farm", created_by=team.user, customer=team.customer)
    client.force_login(team.user)
    html = client.get(reverse("audit:activity")).content.decode()
    assert "ordered the filespace" in html
    assert "invited sam@fabrikam.example to join as member." in html
    assert "created an API key named “Render farm”." in html
    body = html.split("<main", 1)[1]
    assert not RAW_CODE.findall(re.sub(r"<[^>]+>|[\w.+-]+@[\w.-]+", " ", body))
