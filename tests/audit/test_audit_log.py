"""The audit log only grows, never holds a secret, and each customer sees only its own entries."""

from decimal import Decimal

import pytest
from django.urls import reverse

from portal.audit.models import AppendOnlyError, AuditEntry
from portal.audit.selectors import audit_entries_for
from portal.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_an_entry_records_who_what_on_which_object_before_and_after(
    user_factory, filespace_factory
):
    staff = user_factory("alice@msp.example", is_staff=True)
    filespace = filespace_factory(state="error")
    entry = audit_record(
        actor=staff,
        action="filespace.retry",
        target=filespace,
        before={"state": "error", "price": Decimal("1.50")},
        after={"state": "requested"},
        note="Customer asked",
    )
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor == staff and entry.actor_label == "alice@msp.example"
    assert entry.customer == filespace.customer  # taken from the target
    assert entry.customer_label == filespace.customer.name
    assert entry.target_type.model_class().__name__ == "Filespace"
    assert entry.target_id == str(filespace.pk)
    assert entry.target_label == str(filespace)
    assert entry.before == {"state": "error", "price": "1.50"}
    assert entry.changes == [("price", "1.50", None), ("state", "error", "requested")]
    assert entry.note == "Customer asked"
    assert entry.created_at is not None


def test_a_system_entry_has_no_actor(customer_factory):
    entry = audit_record(actor=None, action="customer.terminated", customer=customer_factory())
    assert entry.actor is None and entry.actor_label == "system" and entry.is_system


def test_an_entry_cannot_be_changed_or_deleted(customer_factory):
    entry = audit_record(actor=None, action="customer.suspended", customer=customer_factory())
    entry.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).note == ""


def test_secret_looking_keys_are_redacted_even_when_nested(customer_factory):
    entry = audit_record(
        actor=None,
        action="order.placed",
        customer=customer_factory(),
        after={
            "bucket": "media",
            "secret_key": "AKIA-very-secret",
            "credentials": {"access_key": "AKIA", "region": "us-east"},
            "root_password": "hunter2",
            "token": "t",
        },
    )
    stored = AuditEntry.objects.get(pk=entry.pk).after
    assert stored == {
        "bucket": "media",
        "secret_key": "[redacted]",
        "credentials": "[redacted]",
        "root_password": "[redacted]",
        "token": "[redacted]",
    }
    assert "hunter2" not in repr(entry) and "AKIA" not in str(stored)


@pytest.mark.parametrize("action", ["", "approved", "Order.Approved", "order approved", "order."])
def test_an_action_must_be_a_dotted_lowercase_verb(action):
    with pytest.raises(ValueError, match="dotted"):
        audit_record(actor=None, action=action)
    assert AuditEntry.objects.count() == 0


def test_the_selector_returns_only_that_customers_entries_newest_first(customer_factory):
    mine, theirs = customer_factory(), customer_factory()
    first = audit_record(actor=None, action="customer.suspended", customer=mine)
    audit_record(actor=None, action="customer.suspended", customer=theirs)
    second = audit_record(actor=None, action="customer.resumed", customer=mine)
    assert list(audit_entries_for(customer=mine)) == [second, first]


def test_owners_see_their_organisations_activity_and_not_another(client, member_factory):
    owner = member_factory(role="owner")
    other = member_factory(role="owner")
    audit_record(
        actor=None, action="customer.suspended", customer=owner.customer, note="Unpaid invoice"
    )
    audit_record(actor=None, action="customer.suspended", customer=other.customer, note="LEAK")
    client.force_login(owner.user)
    body = client.get(reverse("audit:activity")).content.decode()
    assert "Unpaid invoice" in body
    assert "LEAK" not in body


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("billing", False), ("member", False)]
)
def test_only_owners_and_admins_see_the_activity_log(client, member_factory, role, allowed):
    member = member_factory(role=role)
    audit_record(actor=None, action="customer.suspended", customer=member.customer, note="Seen")
    client.force_login(member.user)
    response = client.get(reverse("audit:activity"), follow=True)
    assert ("Seen" in response.content.decode()) is allowed


def test_the_activity_page_costs_the_same_queries_for_1_and_50_entries(
    client, member_factory, user_factory, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = member_factory(role="owner")
    staff = user_factory("alice@msp.example", is_staff=True)
    audit_record(actor=staff, action="customer.suspended", customer=owner.customer)
    client.force_login(owner.user)
    url = reverse("audit:activity")
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for number in range(49):
        audit_record(
            actor=staff, action="order.approved", customer=owner.customer, after={"n": number}
        )
    with django_assert_num_queries(len(one)):
        client.get(url)


def test_deleting_the_actor_keeps_the_entry_and_its_label(user_factory, customer_factory):
    staff = user_factory("gone@msp.example", is_staff=True)
    entry = audit_record(actor=staff, action="customer.suspended", customer=customer_factory())
    staff.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor is None and entry.actor_label == "gone@msp.example"


@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("admin", True), ("member", False)])
def test_the_activity_link_is_in_the_nav_for_owners_and_admins_only(
    client, member_factory, role, shown
):
    member = member_factory(role=role)
    client.force_login(member.user)
    body = client.get(reverse("dashboard")).content.decode()
    assert (f'href="{reverse("audit:activity")}"' in body) is shown


def test_customers_see_staff_as_the_msp_not_by_email(
    client, member_factory, user_factory, settings
):
    owner = member_factory(role="owner")
    staff = user_factory("alice@msp.example", is_staff=True)
    audit_record(actor=staff, action="customer.suspended", customer=owner.customer)
    audit_record(actor=owner.user, action="filespace.user_created", customer=owner.customer)
    client.force_login(owner.user)
    body = client.get(reverse("audit:activity")).content.decode()
    assert "alice@msp.example" not in body
    assert f"{settings.MSP_NAME} staff" in body
    assert owner.user.email in body
