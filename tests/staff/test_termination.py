"""Termination: nothing is deleted at LucidLink without a second staff member's approval and the
grace period after it. Runs against lucidsim as a real HTTP server through the real client."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.customers import lifecycle
from portal.customers.models import CustomerTermination
from portal.orders.models import Order
from portal.staff import tasks as staff_tasks
from provisioning import lucidlink, tasks
from provisioning.domain import msp_domain_forget
from provisioning.models import Filespace
from provisioning.services import ordering

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def sim(lucidsim, settings):
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    settings.LUCIDLINK_READ_TIMEOUT = 2
    settings.TERMINATION_GRACE_DAYS = 14
    lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget()
    yield lucidsim
    lucidlink.forget_tokens()
    msp_domain_forget()


@pytest.fixture
def live_filespace(sim, customer_factory, plan_factory, monkeypatch):
    """A filespace created at lucidsim through the real create task."""
    monkeypatch.setattr(tasks.create_filespace, "delay", lambda *a, **k: None)
    customer = customer_factory(name_prefix="acme")
    order = ordering.order_place(
        customer=customer,
        plan=plan_factory(),
        name="media",
        provider="IBM",
        region="us-east",
        idempotency_key="key-media",
    )
    filespace = Filespace.objects.get(order=order)
    tasks.create_filespace(filespace.pk)
    filespace.refresh_from_db()
    assert filespace.remote_id
    assert sim.count("createFilespace") == 1
    return filespace


def run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) -> list[int]:
    """Run the beat task, then deliver every delete task it enqueued after commit."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.delete_filespace, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        staff_tasks.carry_out_terminations()
    for pk in sent:
        tasks.delete_filespace(pk)
    return sent


def test_a_termination_reaches_lucidlink_only_after_a_second_approval_and_the_grace(
    sim,
    live_filespace,
    staff_factory,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    requester = staff_factory("alice@msp.example")
    approver = staff_factory("bob@msp.example")
    customer = live_filespace.customer

    termination = lifecycle.customer_termination_request(
        customer=customer, acting_user=requester, reason="Contract ended"
    )
    customer.refresh_from_db()
    assert customer.status == "suspended"

    # Requested only: even long after, nothing happens.
    with time_machine.travel(timezone.now() + timedelta(days=60)):
        assert run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) == []
    assert sim.count("deleteFilespace") == 0

    # The requester cannot be the second approver.
    with pytest.raises(ValidationError, match="second staff member"):
        lifecycle.customer_termination_approve(termination=termination, acting_user=requester)
    assert run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) == []
    assert sim.count("deleteFilespace") == 0

    termination = lifecycle.customer_termination_approve(
        termination=termination, acting_user=approver
    )
    approved_at = termination.approved_at
    assert termination.delete_after == approved_at + timedelta(days=14)

    # Approved but inside the grace period: still nothing.
    with time_machine.travel(approved_at + timedelta(days=13, hours=23)):
        assert run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) == []
    assert sim.count("deleteFilespace") == 0
    assert Filespace.objects.get(pk=live_filespace.pk).state != Filespace.State.DELETING

    # Grace over: the beat schedules the delete, the task carries it out once.
    with time_machine.travel(approved_at + timedelta(days=14, minutes=1)):
        sent = run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch)
        assert sent == [live_filespace.pk]
        assert sim.count("deleteFilespace", "acme-media") == 1
        # A second beat run finds nothing left to do.
        assert run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) == []
    assert sim.count("deleteFilespace") == 1

    assert Filespace.objects.get(pk=live_filespace.pk).state == Filespace.State.DELETED
    customer.refresh_from_db()
    assert customer.status == "terminated"
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.CARRIED_OUT
    actions = list(
        AuditEntry.objects.exclude(action="order.placed")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert actions == [
        ("customer.termination_requested", "alice@msp.example"),
        ("customer.termination_approve_refused", "alice@msp.example"),  # her own, refused
        ("customer.termination_approved", "bob@msp.example"),
        ("customer.terminated", "system"),
        ("filespace.delete_requested", "system"),
        ("customer.termination_carried_out", "system"),
    ]


def test_a_cancelled_termination_deletes_nothing_and_restores_the_customer(
    sim, live_filespace, staff_factory, django_capture_on_commit_callbacks, monkeypatch
):
    requester = staff_factory("alice@msp.example")
    approver = staff_factory("bob@msp.example")
    termination = lifecycle.customer_termination_request(
        customer=live_filespace.customer, acting_user=requester, reason="Contract ended"
    )
    lifecycle.customer_termination_approve(termination=termination, acting_user=approver)
    lifecycle.customer_termination_cancel(
        termination=termination, acting_user=requester, reason="They renewed"
    )
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert run_beat_and_deliver(django_capture_on_commit_callbacks, monkeypatch) == []
    assert sim.count("deleteFilespace") == 0
    live_filespace.customer.refresh_from_db()
    assert live_filespace.customer.status == "active"


def test_the_database_refuses_an_approval_by_the_requester(customer_factory, staff_factory):
    requester = staff_factory("alice@msp.example")
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), acting_user=requester, reason="x"
    )
    with pytest.raises(IntegrityError):
        CustomerTermination.objects.filter(pk=termination.pk).update(approved_by=requester)


def test_a_customer_cannot_approve_a_termination(customer_factory, staff_factory, user_factory):
    termination = lifecycle.customer_termination_request(
        customer=customer_factory(), acting_user=staff_factory("alice@msp.example"), reason="x"
    )
    with pytest.raises(ValidationError, match="Only Example MSP staff can approve"):
        lifecycle.customer_termination_approve(
            termination=termination, acting_user=user_factory("customer@example.com")
        )
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.AWAITING_APPROVAL


def test_only_one_termination_can_be_open_and_resume_waits_for_its_cancellation(
    customer_factory, staff_factory
):
    alice = staff_factory("alice@msp.example")
    customer = customer_factory()
    termination = lifecycle.customer_termination_request(
        customer=customer, acting_user=alice, reason="x"
    )
    with pytest.raises(ValidationError, match="already open"):
        lifecycle.customer_termination_request(customer=customer, acting_user=alice, reason="y")
    with pytest.raises(ValidationError, match="cancel it"):
        lifecycle.customer_resume(customer=customer, acting_user=alice)
    lifecycle.customer_termination_cancel(termination=termination, acting_user=alice)
    customer.refresh_from_db()
    assert customer.status == "active"


def test_termination_rejects_orders_still_awaiting_approval(
    customer_factory, plan_factory, staff_factory, settings
):
    settings.TERMINATION_GRACE_DAYS = 0
    customer = customer_factory()
    order = ordering.order_place(
        customer=customer,
        plan=plan_factory(requires_approval=True),
        name="later",
        provider="IBM",
        region="us-east",
        idempotency_key="k",
    )
    termination = lifecycle.customer_termination_request(
        customer=customer, acting_user=staff_factory("alice@msp.example"), reason="x"
    )
    lifecycle.customer_termination_approve(
        termination=termination, acting_user=staff_factory("bob@msp.example")
    )
    assert staff_tasks.carry_out_terminations() == {"carried_out": 1, "waiting": 0}
    assert Order.objects.get(pk=order.pk).state == Order.State.REJECTED


def test_the_console_hides_approve_from_the_requester_and_offers_it_to_another(
    client, customer_factory, staff_factory, reauthenticated
):
    alice = staff_factory("alice@msp.example")
    bob = staff_factory("bob@msp.example")
    customer = customer_factory()
    client.force_login(alice)
    reauthenticated(client)
    client.post(reverse("staff:customer_terminate", args=[customer.pk]), {"reason": "Ended"})
    termination = CustomerTermination.objects.get(customer=customer)
    approve_url = reverse("staff:termination_approve", args=[termination.pk])
    page = client.get(reverse("staff:customer", args=[customer.pk])).content.decode()
    assert approve_url not in page
    assert "Another staff member must approve" in page
    response = client.post(approve_url, follow=True)
    assert "second staff member" in response.content.decode()
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.AWAITING_APPROVAL

    client.force_login(bob)
    reauthenticated(client)
    assert approve_url in client.get(reverse("staff:dashboard")).content.decode()
    client.post(approve_url)
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.APPROVED
    assert termination.approved_by == bob

    client.post(reverse("staff:termination_cancel", args=[termination.pk]), {"reason": "Renewed"})
    termination.refresh_from_db()
    assert termination.state == CustomerTermination.State.CANCELLED
    actions = list(
        AuditEntry.objects.exclude(action="order.placed")
        .order_by("id")
        .values_list("action", "actor_label", "note")
    )
    assert actions == [
        ("customer.termination_requested", "alice@msp.example", "Ended"),
        # The refused self-approval is on the record too.
        (
            "customer.termination_approve_refused",
            "alice@msp.example",
            "A termination needs a second staff member: someone other than the requester "
            "must approve it.",
        ),
        ("customer.termination_approved", "bob@msp.example", ""),
        ("customer.termination_cancelled", "bob@msp.example", "Renewed"),
    ]


def test_the_beat_schedule_names_a_registered_task(settings):
    from portal.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["carry-out-terminations"]
    assert entry["task"] in app.tasks
