"""Every staff action does what it says and leaves exactly one audit entry naming the actor."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from provisioning import tasks
from provisioning.models import Filespace, ProvisioningEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting_order(customer_factory, plan_factory):
    from provisioning.services.ordering import order_place

    plan = plan_factory(requires_approval=True)
    customer = customer_factory(name_prefix="acme")
    return order_place(
        customer=customer,
        plan=plan,
        name="media",
        provider="IBM",
        region="us-east",
        idempotency_key="k1",
    )


def _staff_entries():
    """Entries written by the staff actions under test (not the order placed by the fixture)."""
    return AuditEntry.objects.exclude(action="order.placed")


def _only_entry(action: str) -> AuditEntry:
    entries = list(_staff_entries())
    assert [e.action for e in entries] == [action]
    return entries[0]


def test_approving_an_order_starts_provisioning_after_commit_and_is_audited(
    staff_client, staff_user, awaiting_order, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.create_filespace, "delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse("staff:order_approve", args=[awaiting_order.pk]), {"reason": ""}
        )
    assert response.status_code == 302
    order = Order.objects.get(pk=awaiting_order.pk)
    assert order.state == Order.State.PROVISIONING
    assert order.decided_by == staff_user
    filespace = Filespace.objects.get(order=order)
    assert sent == [(filespace.pk,)]
    assert len(callbacks) >= 1
    entry = _only_entry("order.approved")
    assert entry.actor == staff_user
    assert entry.customer == order.customer
    assert entry.before == {"state": "awaiting_approval"}
    assert entry.after == {"state": "provisioning"}


def test_rejecting_needs_a_reason_and_records_it(staff_client, staff_user, awaiting_order):
    url = reverse("staff:order_reject", args=[awaiting_order.pk])
    response = staff_client.post(url, {"reason": "  "}, follow=True)
    assert "Give a reason" in response.content.decode()
    assert Order.objects.get(pk=awaiting_order.pk).state == Order.State.AWAITING_APPROVAL
    assert _staff_entries().count() == 0

    staff_client.post(url, {"reason": "Region not offered to you"})
    order = Order.objects.get(pk=awaiting_order.pk)
    assert order.state == Order.State.REJECTED
    assert order.decision_reason == "Region not offered to you"
    entry = _only_entry("order.rejected")
    assert entry.note == "Region not offered to you"
    assert entry.actor == staff_user


def test_an_order_decided_twice_gets_a_message_not_a_500(staff_client, awaiting_order):
    url = reverse("staff:order_reject", args=[awaiting_order.pk])
    staff_client.post(url, {"reason": "no"})
    response = staff_client.post(
        reverse("staff:order_approve", args=[awaiting_order.pk]), follow=True
    )
    assert response.status_code == 200
    assert "already rejected" in response.content.decode()
    assert AuditEntry.objects.filter(action="order.approved").count() == 0


def test_an_order_of_a_suspended_customer_cannot_be_approved(
    staff_client, staff_user, awaiting_order
):
    from portal.customers.lifecycle import customer_suspend

    customer_suspend(customer=awaiting_order.customer, acting_user=staff_user, reason="unpaid")
    response = staff_client.post(
        reverse("staff:order_approve", args=[awaiting_order.pk]), follow=True
    )
    assert "resume the customer" in response.content.decode()
    assert Order.objects.get(pk=awaiting_order.pk).state == Order.State.AWAITING_APPROVAL


def test_retrying_a_failed_filespace_is_audited(
    staff_client, staff_user, filespace_factory, monkeypatch
):
    monkeypatch.setattr(tasks.create_filespace, "delay", lambda *a: None)
    filespace = filespace_factory(state="error", last_error="boom")
    staff_client.post(reverse("staff:filespace_retry", args=[filespace.pk]))
    filespace.refresh_from_db()
    assert filespace.state == Filespace.State.REQUESTED
    assert filespace.events.filter(kind=ProvisioningEvent.Kind.STAFF_RETRY).count() == 1
    entry = _only_entry("filespace.retry")
    assert entry.before == {"state": "error"} and entry.after == {"state": "requested"}
    assert entry.target_label == str(filespace)


def test_retrying_a_filespace_that_is_not_failed_is_refused_with_a_message(
    staff_client, filespace_factory
):
    filespace = filespace_factory(state="active", remote_id="fs-1")
    response = staff_client.post(reverse("staff:filespace_retry", args=[filespace.pk]), follow=True)
    assert "Only a filespace in error can be retried." in response.content.decode()
    assert AuditEntry.objects.count() == 0


def test_force_failing_needs_a_reason_and_is_audited(
    staff_client, filespace_factory, reauthenticated
):
    reauthenticated(staff_client)
    filespace = filespace_factory(state="provisioning", remote_id="fs-2")
    url = reverse("staff:filespace_fail", args=[filespace.pk])
    staff_client.post(url, {"reason": ""})
    assert Filespace.objects.get(pk=filespace.pk).state == "provisioning"
    staff_client.post(url, {"reason": "Stuck at LucidLink for a day"})
    filespace.refresh_from_db()
    assert filespace.state == Filespace.State.ERROR
    assert filespace.last_error == "Stuck at LucidLink for a day"
    entry = _only_entry("filespace.force_failed")
    assert entry.after == {"state": "error"}


def test_deleting_needs_the_name_typed_and_is_audited(
    staff_client,
    filespace_factory,
    django_capture_on_commit_callbacks,
    monkeypatch,
    reauthenticated,
):
    reauthenticated(staff_client)
    sent = []
    monkeypatch.setattr(tasks.delete_filespace, "delay", lambda *a: sent.append(a))
    filespace = filespace_factory(state="active", remote_id="fs-3")
    url = reverse("staff:filespace_delete", args=[filespace.pk])
    response = staff_client.post(url, {"confirm": "wrong"}, follow=True)
    assert f"Type {filespace.remote_name} to confirm" in response.content.decode()
    assert Filespace.objects.get(pk=filespace.pk).state == "active"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"confirm": filespace.remote_name})
    assert Filespace.objects.get(pk=filespace.pk).state == Filespace.State.DELETING
    assert sent == [(filespace.pk,)]
    _only_entry("filespace.delete_requested")


def test_suspend_and_resume_are_audited_with_the_reason(staff_client, staff_user, customer_factory):
    customer = customer_factory()
    staff_client.post(reverse("staff:customer_suspend", args=[customer.pk]), {"reason": "Unpaid"})
    customer.refresh_from_db()
    assert customer.status == "suspended"
    staff_client.post(reverse("staff:customer_resume", args=[customer.pk]), {"reason": "Paid"})
    customer.refresh_from_db()
    assert customer.status == "active"
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "note", "actor"))
    assert actions == [
        ("customer.suspended", "Unpaid", staff_user.pk),
        ("customer.resumed", "Paid", staff_user.pk),
    ]


def test_suspending_without_a_reason_changes_nothing(staff_client, customer_factory):
    customer = customer_factory()
    response = staff_client.post(
        reverse("staff:customer_suspend", args=[customer.pk]), {"reason": ""}, follow=True
    )
    assert "Give a reason" in response.content.decode()
    customer.refresh_from_db()
    assert customer.status == "active"
    assert AuditEntry.objects.count() == 0


def test_an_action_on_a_missing_object_is_a_404(staff_client):
    assert staff_client.post(reverse("staff:order_approve", args=[999])).status_code == 404
    assert staff_client.post(reverse("staff:filespace_retry", args=[999])).status_code == 404
    assert staff_client.get(reverse("staff:customer", args=[999])).status_code == 404


def test_the_next_parameter_never_redirects_off_the_console(staff_client, filespace_factory):
    filespace = filespace_factory(state="active", remote_id="fs-4")
    response = staff_client.post(
        reverse("staff:filespace_retry", args=[filespace.pk]), {"next": "//evil.example/"}
    )
    assert response["Location"] == reverse("staff:filespaces")


def test_a_filespace_of_a_suspended_customer_is_not_retried(
    staff_client, staff_user, filespace_factory, monkeypatch
):
    from portal.customers.lifecycle import customer_suspend

    sent = []
    monkeypatch.setattr(tasks.create_filespace, "delay", lambda *a: sent.append(a))
    filespace = filespace_factory(state="error")
    customer_suspend(customer=filespace.customer, acting_user=staff_user, reason="Unpaid")
    response = staff_client.post(reverse("staff:filespace_retry", args=[filespace.pk]), follow=True)
    assert "resume the customer" in response.content.decode()
    assert Filespace.objects.get(pk=filespace.pk).state == Filespace.State.ERROR
    assert sent == []
    assert not AuditEntry.objects.filter(action="filespace.retry").exists()
