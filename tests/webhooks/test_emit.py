"""Events are emitted once per fact, after commit, to the right subscriptions only."""

import pytest
from django.db import transaction

from portal.actions.models import OutboxEvent
from portal.webhooks.models import Delivery, Event
from portal.webhooks.services import subscription_create, webhook_emit
from provisioning.models import ProvisioningEvent
from provisioning.services import event_record

pytestmark = pytest.mark.django_db

ALL = [
    "order.placed",
    "order.approved",
    "filespace.provisioned",
    "filespace.active",
    "filespace.error",
    "filespace.deleted",
    "invoice.finalized",
    "customer.suspended",
]


@pytest.fixture
def msp_sub(staff, receiver):
    return subscription_create(url=receiver.url, event_types=ALL, created_by=staff)[0]


def _types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("event_type", flat=True))


def test_placing_an_order_emits_order_placed_after_commit(
    msp_sub, customer_factory, plan_factory, django_capture_on_commit_callbacks, no_webhook_enqueue
):
    from provisioning.services.ordering import order_place

    customer = customer_factory(name_prefix="acme")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            customer=customer, plan=plan_factory(), name="media", provider="IBM",
            region="us-east", idempotency_key="k1",
        )  # fmt: skip
    event = Event.objects.get(event_type="order.placed")
    assert event.customer == customer
    assert event.data["order"]["id"] == order.pk
    delivery = Delivery.objects.get(event=event)
    assert delivery.subscription == msp_sub
    assert no_webhook_enqueue == [delivery.pk]


def test_nothing_is_emitted_when_the_transaction_rolls_back(
    msp_sub, filespace_factory, django_capture_on_commit_callbacks
):
    filespace = filespace_factory(state="active")
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                event_record(filespace=filespace, kind=ProvisioningEvent.Kind.DELETED)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert not Event.objects.exists()


def test_timeline_transitions_become_filespace_events_once(
    msp_sub, filespace_factory, django_capture_on_commit_callbacks, no_webhook_enqueue
):
    filespace = filespace_factory(state="provisioned")
    Kind = ProvisioningEvent.Kind
    with django_capture_on_commit_callbacks(execute=True):
        for kind in (Kind.PROVISIONED, Kind.PROVISIONED, Kind.ACTIVE, Kind.FAILED, Kind.DELETED):
            event_record(filespace=filespace, kind=kind)
    assert _types() == [
        "filespace.provisioned",
        "filespace.active",
        "filespace.error",
        "filespace.deleted",
    ]
    provisioned = Event.objects.get(event_type="filespace.provisioned")
    assert provisioned.data["filespace"]["id"] == filespace.pk
    assert provisioned.data["timeline_event"]["kind"] == "provisioned"


def test_each_failure_is_its_own_event(
    msp_sub, filespace_factory, django_capture_on_commit_callbacks
):
    filespace = filespace_factory(state="error")
    with django_capture_on_commit_callbacks(execute=True):
        event_record(filespace=filespace, kind=ProvisioningEvent.Kind.FAILED)
        event_record(filespace=filespace, kind=ProvisioningEvent.Kind.STAFF_FAIL)
    assert _types() == ["filespace.error", "filespace.error"]


def test_the_same_dedupe_key_emits_once(msp_sub, customer_factory, no_webhook_enqueue):
    customer = customer_factory()
    first = webhook_emit(event_type="order.placed", customer=customer, dedupe_key="x:1", data={})
    again = webhook_emit(event_type="order.placed", customer=customer, dedupe_key="x:1", data={})
    assert first is not None and again is None
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_customer_subscription_hears_only_its_own_customer(
    staff, receiver, customer_factory, member_factory, no_webhook_enqueue
):
    mine, theirs = customer_factory(), customer_factory()
    owner = member_factory(role="owner", customer=mine).user
    mine_sub, _ = subscription_create(
        url=receiver.url, event_types=["order.placed"], created_by=owner, customer=mine
    )
    # An MSP subscription for another event type hears nothing of this.
    subscription_create(url=receiver.url, event_types=["invoice.finalized"], created_by=staff)
    webhook_emit(event_type="order.placed", customer=mine, dedupe_key="a", data={})
    webhook_emit(event_type="order.placed", customer=theirs, dedupe_key="b", data={})
    deliveries = list(Delivery.objects.values_list("subscription_id", "event__dedupe_key"))
    assert deliveries == [(mine_sub.pk, "a")]


def test_finalizing_an_invoice_emits_invoice_finalized(
    msp_sub, customer_factory, django_capture_on_commit_callbacks
):
    from tests.api.helpers import make_invoice

    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(customer_factory())
    event = Event.objects.get(event_type="invoice.finalized")
    assert event.data["invoice"]["number"] == invoice.number


def test_suspending_a_customer_emits_customer_suspended_without_the_staff_reason(
    msp_sub, customer_factory, staff, django_capture_on_commit_callbacks
):
    from portal.customers.lifecycle import customer_resume, customer_suspend

    customer = customer_factory()
    with django_capture_on_commit_callbacks(execute=True):
        customer_suspend(customer=customer, acting_user=staff, reason="Internal: fraud check")
        customer_resume(customer=customer, acting_user=staff)
    event = Event.objects.get()
    assert event.event_type == "customer.suspended"
    assert event.data["customer"]["status"] == "suspended"
    assert event.data["suspended_at"]
    assert "fraud" not in str(event.data)


def test_approving_an_order_emits_order_approved(
    msp_sub, customer_factory, plan_factory, staff, django_capture_on_commit_callbacks
):
    from provisioning.services.ordering import order_approve, order_place

    gated = plan_factory(requires_approval=True)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            customer=customer_factory(), plan=gated, name="media", provider="IBM",
            region="us-east", idempotency_key="k1",
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        order_approve(order=order, acting_user=staff)
    assert _types() == ["order.placed", "order.approved"]
    assert Event.objects.get(event_type="order.approved").data["order"]["state"] == "provisioning"


def test_creating_a_subscription_checks_url_and_event_types(staff):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        subscription_create(url="ftp://x", event_types=["nope"], created_by=staff)
    assert set(caught.value.message_dict) == {"url", "event_types"}


def test_a_suspended_organisation_cannot_add_a_subscription(
    receiver, member_factory, customer_factory
):
    from django.core.exceptions import ValidationError

    from portal.webhooks.models import Subscription

    owner = member_factory(role="owner", customer=customer_factory(status="suspended"))
    with pytest.raises(ValidationError, match="suspended"):
        subscription_create(url=receiver.url, event_types=["order.placed"],
                            created_by=owner.user, customer=owner.customer)  # fmt: skip
    assert not Subscription.objects.exists()


def test_a_failing_event_build_never_breaks_the_committed_caller(
    msp_sub, customer_factory, plan_factory, monkeypatch, django_capture_on_commit_callbacks
):
    from portal.orders.models import Order
    from portal.webhooks import payloads
    from provisioning.services.ordering import order_place

    def broken(order_id: int):
        raise RuntimeError("payload bug")

    monkeypatch.setattr(payloads, "order_payload", broken)
    with django_capture_on_commit_callbacks(execute=True):
        order_place(
            customer=customer_factory(), plan=plan_factory(), name="media", provider="IBM",
            region="us-east", idempotency_key="k1",
        )  # fmt: skip
    assert Order.objects.count() == 1
    assert not Event.objects.exists()
    # The fact is not lost: it waits in the outbox for the next relay sweep.
    assert OutboxEvent.objects.filter(event_type="order.placed", relayed_at=None).count() == 1
