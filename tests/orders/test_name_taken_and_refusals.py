"""Which rows hold a filespace name, and the order refusals' words (services/ordering.py).

Found by `make mutate TARGETS=actions`: `name_taken` could ignore the name, the deleted or
never-created filespaces, or orders without a filespace, and the suite stayed green.
"""

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from portal.orders.models import Order
from provisioning.models import Filespace
from provisioning.services.ordering import name_taken, order_validate

pytestmark = pytest.mark.django_db
State = Filespace.State


def test_a_name_is_held_by_a_filespace_until_it_is_deleted_or_failed_before_creation(
    filespace_factory,
):
    def held_by_filespace_only(name, **fields):
        filespace = filespace_factory(name=name, **fields)
        Order.objects.filter(pk=filespace.order_id).update(state=Order.State.CANCELLED)
        return filespace.remote_name

    requested = held_by_filespace_only("new")  # no remote id yet
    live = held_by_filespace_only("live", state=State.ACTIVE, remote_id="fs-1")
    failed_after_creation = held_by_filespace_only("half", state=State.ERROR, remote_id="fs-2")
    deleted = held_by_filespace_only("gone", state=State.DELETED, remote_id="fs-3")
    failed_before_creation = held_by_filespace_only("never", state=State.ERROR)

    assert name_taken(requested) and name_taken(live) and name_taken(failed_after_creation)
    assert not name_taken(deleted)
    assert not name_taken(failed_before_creation)
    assert not name_taken("nobody-has-this")


def test_a_name_is_held_by_a_live_order_before_it_has_a_filespace(customer_factory, plan_factory):
    customer, plan = customer_factory(), plan_factory()

    def order(name, state):
        Order.objects.create(
            customer=customer, plan=plan, name=name, remote_name=f"{customer.name_prefix}-{name}",
            provider=plan.provider, region="us-east", state=state, idempotency_key=name,
        )  # fmt: skip
        return f"{customer.name_prefix}-{name}"

    assert name_taken(order("waiting", Order.State.AWAITING_APPROVAL))
    assert not name_taken(order("withdrawn", Order.State.CANCELLED))
    assert not name_taken(order("refused", Order.State.REJECTED))


def test_an_inactive_customer_and_a_retired_plan_are_refused_in_words(
    customer_factory, plan_factory
):
    customer = customer_factory(status="suspended")
    plan = plan_factory(is_active=False)
    with pytest.raises(ValidationError) as refused:
        order_validate(customer=customer, plan=plan, name="media", provider="IBM", region="us-east")
    assert refused.value.message_dict == {
        NON_FIELD_ERRORS: [
            "Your organisation's account is not active, so it cannot order filespaces. "
            "Contact support."
        ],
        "plan": ["This plan is no longer offered. Choose another plan."],
    }


def test_an_own_storage_order_without_its_bucket_or_keys_is_told_what_to_enter(
    customer_factory, plan_factory
):
    plan = plan_factory(storage_owner="customer")
    with pytest.raises(ValidationError) as refused:
        order_validate(
            customer=customer_factory(), plan=plan, name="media", provider="IBM", region="us-east"
        )
    errors = refused.value.message_dict
    assert errors["bucket"] == ["Enter the name of your bucket."]
    assert errors["access_key"] == ["Enter the access key LucidLink will use for your bucket."]
    assert errors["secret_key"] == ["Enter the secret key that goes with the access key."]


def test_storage_fields_on_a_lucidlink_storage_plan_are_refused_each_on_its_field(
    customer_factory, plan_factory
):
    plan = plan_factory(name="Teams")
    with pytest.raises(ValidationError) as refused:
        order_validate(
            customer=customer_factory(), plan=plan, name="media", provider="IBM",
            region="us-east", bucket="b", endpoint="https://s3.example", access_key="a",
            secret_key="s",
        )  # fmt: skip
    errors = refused.value.message_dict
    leave_empty = "The Teams plan uses storage LucidLink provides; leave this empty."
    for field in ("bucket", "endpoint", "access_key", "secret_key"):
        assert leave_empty in errors[field], field
