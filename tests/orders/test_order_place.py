"""order_place, order_approve, order_reject, order_cancel and the shared rules."""

from unittest import mock

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from portal.orders import services
from portal.orders.models import Order
from portal.plans.models import StorageOwner, SubscriptionType
from provisioning import rules, tasks
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import ordering
from tests.reach import Reach


@pytest.fixture
def customer(customer_factory):
    return customer_factory(name_prefix="acme")


@pytest.fixture
def plan(plan_factory):
    return plan_factory()


@pytest.fixture
def own_plan(plan_factory):
    return plan_factory(
        storage_owner=StorageOwner.CUSTOMER,
        subscription_type=SubscriptionType.CUSTOM,
        provider="AWS",
        allowed_regions=[],
    )


@pytest.fixture
def staff(db):
    """MSP staff with a second factor: approving and rejecting are theirs."""
    user = get_user_model().objects.create_user(
        username="staff", email="s@example.com", is_staff=True
    )
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def place(customer, plan, **overrides):
    fields = {
        "customer": customer,
        "plan": plan,
        "name": "media",
        "provider": plan.provider,
        "region": "us-east",
        "idempotency_key": "key-1",
    }
    fields.update(overrides)
    return ordering.order_place(**fields)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def test_placing_an_order_creates_a_requested_filespace_and_enqueues_after_commit(
    customer, plan, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.create_filespace, "delay") as delay,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        order = place(customer, plan)
        assert delay.call_count == 0  # nothing leaves before the commit
    filespace = Filespace.objects.get(order=order)

    assert order.state == Order.State.PROVISIONING
    assert order.remote_name == "acme-media"
    assert filespace.state == Filespace.State.REQUESTED
    assert filespace.subscription_type == "teams"
    creates = [cb for cb in callbacks if getattr(cb, "func", None) is delay]
    assert len(creates) == 1
    creates[0]()
    delay.assert_called_once_with(filespace.pk)
    assert filespace.events.get().kind == ProvisioningEvent.Kind.REQUESTED


def test_placing_an_order_takes_two_reads_and_one_insert_per_row_it_writes(customer, plan):
    place(customer, plan, name="warm", idempotency_key="warm")  # the content type is cached
    with CaptureQueriesContext(connection) as queries:
        place(customer, plan, name="media", idempotency_key="key-2")

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # The test's transaction turns the action's BEGIN/COMMIT into SAVEPOINT/RELEASE.
    assert statements == ["SAVEPOINT", "SELECT", "SELECT"] + ["INSERT"] * 5 + ["RELEASE"]
    inserted = {q["sql"].split('"')[1] for q in queries.captured_queries[3:8]}
    assert inserted == {
        "orders_order",
        "provisioning_filespace",
        "provisioning_provisioningevent",
        "audit_auditentry",
        "actions_outboxevent",
    }


def test_a_rolled_back_order_enqueues_nothing(customer, plan, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.create_filespace, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        place(customer, plan)
        raise RuntimeError("the request failed after placing")

    assert delay.call_count == 0
    assert not Order.objects.exists()
    assert not Filespace.objects.exists()


def test_a_double_submitted_form_places_one_order(customer, plan):
    first = place(customer, plan)
    second = place(customer, plan)

    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert Filespace.objects.count() == 1


def test_the_same_key_from_another_customer_is_another_order(customer, customer_factory, plan):
    place(customer, plan)
    other = customer_factory(name_prefix="other")

    place(other, plan)

    assert Order.objects.count() == 2


def test_a_missing_idempotency_key_is_refused(customer, plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, idempotency_key="")
    assert "reload the page" in errors_of(excinfo)[NON_FIELD_ERRORS][0]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "Enter a name"),
        ("Media", "lowercase letters only, for example media"),
        ("me dia", "only lowercase letters, digits and hyphens"),
        ("-media", "cannot start or end with a hyphen"),
        ("media-", "cannot start or end with a hyphen"),
        ("m", "at least 2 characters"),
        ("m" * 59, "at most 58 characters"),
        ("media.x", "only lowercase letters"),
        (" media", "Remove the spaces"),
    ],
)
def test_a_bad_name_is_refused_with_words_the_customer_can_act_on(customer, plan, name, words):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, name=name)
    assert words in " ".join(errors_of(excinfo)["name"])
    assert not Order.objects.exists()


def test_a_name_already_used_in_the_portal_is_refused(customer, plan):
    place(customer, plan)

    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, idempotency_key="key-2")
    assert "already in use" in errors_of(excinfo)["name"][0]


def test_a_name_freed_by_a_failed_creation_can_be_ordered_again(customer, plan):
    first = place(customer, plan)
    Filespace.objects.filter(order=first).update(state=Filespace.State.ERROR)
    Order.objects.filter(pk=first.pk).update(state=Order.State.FAILED)

    again = place(customer, plan, idempotency_key="key-2", region="eu-de")

    assert again.pk != first.pk


def test_every_problem_is_reported_at_once_keyed_by_field(customer, plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, name="-x-", provider="AWS", bucket="b", idempotency_key="k")
    errors = errors_of(excinfo)
    assert set(errors) >= {"name", "provider", "bucket"}
    assert "choose IBM" in errors["provider"][0]


def test_an_unknown_provider_is_refused(customer, plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, provider="Dropbox")
    assert "Choose one of the storage providers" in errors_of(excinfo)["provider"][0]


def test_a_region_outside_the_plan_is_refused(customer, plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, region="jp-tok")
    assert "us-east, eu-de" in errors_of(excinfo)["region"][0]


def test_a_plan_without_a_region_list_takes_the_providers_regions(customer, plan_factory):
    plan = plan_factory(allowed_regions=[])
    assert place(customer, plan, region="jp-tok").region == "jp-tok"
    with pytest.raises(ValidationError):
        place(customer, plan, region="us-east-1", name="other", idempotency_key="k2")


def test_an_inactive_customer_cannot_order(customer_factory, plan):
    suspended = customer_factory(status="suspended")

    with pytest.raises(ValidationError) as excinfo:
        place(suspended, plan)
    assert "not active" in errors_of(excinfo)[NON_FIELD_ERRORS][0]


def test_a_withdrawn_plan_cannot_be_ordered(customer, plan_factory):
    plan = plan_factory(is_active=False)

    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan)
    assert "no longer offered" in errors_of(excinfo)["plan"][0]


def test_an_own_storage_order_needs_a_bucket_and_keys(customer, own_plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, own_plan, region="us-east-1")
    assert set(errors_of(excinfo)) == {"bucket", "access_key", "secret_key"}


def test_an_own_storage_order_keeps_its_keys_encrypted(customer, own_plan):
    order = place(
        customer,
        own_plan,
        region="us-east-1",
        bucket="acme.media-01",
        access_key="AKIAEXAMPLE",
        secret_key="very-secret-value",
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_key, secret_key FROM orders_order WHERE id = %s", [order.pk])
        stored = cursor.fetchone()
    assert "AKIAEXAMPLE" not in stored[0] and "very-secret-value" not in stored[1]
    reloaded = Order.objects.get(pk=order.pk)
    assert reloaded.secret_key == "very-secret-value"
    assert Filespace.objects.get(order=order).bucket == "acme.media-01"


def test_a_bad_bucket_name_is_refused(customer, own_plan):
    with pytest.raises(ValidationError) as excinfo:
        place(
            customer,
            own_plan,
            region="us-east-1",
            bucket="Bad_Bucket",
            access_key="a",
            secret_key="b",
        )
    assert "3 to 63 lowercase letters" in errors_of(excinfo)["bucket"][0]


def test_storage_fields_are_refused_on_a_lucidlink_storage_plan(customer, plan):
    with pytest.raises(ValidationError) as excinfo:
        place(customer, plan, bucket="my-bucket")
    assert "leave this empty" in errors_of(excinfo)["bucket"][0]


def test_an_endpoint_is_only_accepted_for_zadara_cloudian_and_other(customer, plan_factory):
    aws = plan_factory(storage_owner=StorageOwner.CUSTOMER, provider="AWS", allowed_regions=[])
    other = plan_factory(storage_owner=StorageOwner.CUSTOMER, provider="Other", allowed_regions=[])
    own = {"bucket": "bucket-1", "access_key": "a", "secret_key": "b"}

    with pytest.raises(ValidationError) as excinfo:
        place(customer, aws, region="us-east-1", endpoint="https://s3.example.net", **own)
    assert "only possible with Cloudian, Other, Zadara" in errors_of(excinfo)["endpoint"][0]
    order = place(
        customer,
        other,
        region="r2",
        endpoint="https://s3.example.net:443",
        idempotency_key="k2",
        **own,
    )
    assert order.endpoint == "https://s3.example.net:443"


def test_an_order_needing_approval_waits_and_sends_nothing(
    customer, plan_factory, django_capture_on_commit_callbacks
):
    plan = plan_factory(requires_approval=True)

    with (
        mock.patch.object(tasks.create_filespace, "delay") as delay,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        order = place(customer, plan)

    assert order.state == Order.State.AWAITING_APPROVAL
    assert not Filespace.objects.exists()
    assert [cb for cb in callbacks if getattr(cb, "func", None) is delay] == []


def test_an_order_awaiting_approval_holds_its_name(customer, plan_factory):
    plan = plan_factory(requires_approval=True)
    place(customer, plan)

    with pytest.raises(ValidationError):
        place(customer, plan, idempotency_key="key-2")


def test_approving_an_order_starts_provisioning(
    customer, plan_factory, staff, django_capture_on_commit_callbacks
):
    order = place(customer, plan_factory(requires_approval=True))

    with (
        mock.patch.object(tasks.create_filespace, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        approved = ordering.order_approve(order=order, acting_user=staff)

    filespace = Filespace.objects.get(order=order)
    assert approved.state == Order.State.PROVISIONING
    assert approved.decided_by == staff and approved.decided_at is not None
    delay.assert_called_once_with(filespace.pk)
    assert [e.kind for e in filespace.events.all()] == ["requested", "approved"]


def test_an_order_cannot_be_decided_twice(customer, plan_factory, staff):
    order = place(customer, plan_factory(requires_approval=True))
    services.order_reject(order=order, acting_user=staff, reason="Region not offered to you.")

    with pytest.raises(ValidationError, match="already rejected"):
        ordering.order_approve(order=order, acting_user=staff)
    order.refresh_from_db()
    assert order.decision_reason == "Region not offered to you."
    assert not Filespace.objects.exists()


def test_rejecting_needs_a_reason(customer, plan_factory, staff):
    order = place(customer, plan_factory(requires_approval=True))

    with pytest.raises(ValidationError):
        services.order_reject(order=order, acting_user=staff, reason="")
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_APPROVAL


def test_a_cancelled_order_frees_its_name(customer, plan_factory, staff):
    plan = plan_factory(requires_approval=True)
    order = place(customer, plan)

    services.order_cancel(order=order, acting_user=staff)

    assert place(customer, plan, idempotency_key="key-2").pk != order.pk


# Half LucidLink's own name grammar (most of it valid), half anything.
NAMES = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,40}[a-z0-9]", fullmatch=True), st.text(max_size=70)
)


def test_the_name_rule_accepts_exactly_what_lucidlink_accepts():
    import re

    reach = Reach("name accepted")

    @given(NAMES)
    def check(name):
        reach.tried()
        try:
            remote = rules.validate_filespace_name(prefix="acme", name=name)
        except ValidationError:
            ok = False
        else:
            ok = True
            reach.reached()
            assert remote == f"acme-{name}"
        lucidlink_ok = bool(re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", f"acme-{name}")) and (
            len(name) >= 2 and len(f"acme-{name}") <= 63 and not name.startswith("-")
        )
        assert ok == lucidlink_ok

    check()
    reach.assert_share(0.25)
