"""Orders through the API: idempotent placement, approval, rejection and error shape."""

import json

import pytest

from portal.orders.models import Order
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(customer_factory):
    return customer_factory(name="Acme", name_prefix="acme")


@pytest.fixture
def plan(plan_factory):
    return plan_factory(name="Teams", slug="teams")


@pytest.fixture
def api(customer, api_key_factory, api_client_for):
    return api_client_for(api_key_factory(customer=customer)[1])


def _body(plan_obj, **overrides) -> dict:
    fields = {"plan": plan_obj.pk, "name": "media", "provider": "IBM", "region": "us-east"}
    return {**fields, **overrides}


def test_a_retried_post_with_the_same_idempotency_key_places_one_order_and_answers_the_same(
    api, plan, customer
):
    first = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Order.objects.filter(customer=customer).count() == 1
    assert Filespace.objects.filter(customer=customer).count() == 1


def test_the_replayed_answer_stays_the_first_one_after_the_order_moves_on(api, plan):
    first = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    Order.objects.filter(pk=first.json()["id"]).update(state=Order.State.FULFILLED)
    again = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.json() == first.json()
    assert again.json()["state"] == "provisioning"


def test_a_reused_idempotency_key_with_a_different_body_is_refused(api, plan, customer):
    api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    other = api.post(
        "/api/v1/orders/", _body(plan, name="other"), format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.filter(customer=customer).count() == 1


def test_posts_without_an_idempotency_key_place_separate_orders(api, plan, customer):
    assert api.post("/api/v1/orders/", _body(plan), format="json").status_code == 201
    assert api.post("/api/v1/orders/", _body(plan, name="two"), format="json").status_code == 201
    assert Order.objects.filter(customer=customer).count() == 2


def test_bad_fields_answer_400_with_every_field_error(api, plan):
    response = api.post(
        "/api/v1/orders/",
        _body(plan, name="Bad Name!", region="mars-1"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-4",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) >= {"name", "region"}
    assert not Order.objects.exists()
    # A failed attempt stores nothing: the corrected retry with the same key succeeds.
    fixed = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert fixed.status_code == 201


def test_a_missing_plan_or_malformed_body_is_a_400_not_a_500(api, plan):
    assert api.post("/api/v1/orders/", _body(plan, plan=999999), format="json").status_code == 400
    garbled = api.post("/api/v1/orders/", "{not json", content_type="application/json")
    assert garbled.status_code == 400
    assert garbled.json()["error"]["code"] == "parse_error"
    long_key = api.post(
        "/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="x" * 61
    )
    assert long_key.status_code == 400


def test_bucket_keys_are_never_in_an_answer(api, plan_factory):
    own = plan_factory(name="Own", slug="own", storage_owner="customer", provider="AWS",
                       allowed_regions=["us-east-1"])  # fmt: skip
    response = api.post(
        "/api/v1/orders/",
        _body(
            own,
            provider="AWS",
            region="us-east-1",
            bucket="acme-bucket",
            access_key="AKIAEXAMPLEKEY",
            secret_key="very-secret-value",
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    listing = api.get("/api/v1/orders/").content.decode()
    for text in (response.content.decode(), listing):
        assert "very-secret-value" not in text and "AKIAEXAMPLEKEY" not in text


def test_an_msp_key_orders_for_a_named_customer_and_approves(
    msp_api, customer, plan_factory, staff_user
):
    gated = plan_factory(name="Gated", slug="gated", requires_approval=True)
    missing = msp_api.post("/api/v1/orders/", _body(gated), format="json")
    assert missing.status_code == 400 and "customer" in missing.json()["error"]["fields"]
    placed = msp_api.post("/api/v1/orders/", _body(gated, customer=customer.pk), format="json")
    assert placed.status_code == 201
    assert placed.json()["state"] == "awaiting_approval"
    order_id = placed.json()["id"]
    approved = msp_api.post(f"/api/v1/orders/{order_id}/approve/", {}, format="json")
    assert approved.status_code == 200
    assert approved.json()["state"] == "provisioning"
    assert approved.json()["filespace"] is not None
    order = Order.objects.get(pk=order_id)
    assert order.decided_by == staff_user
    again = msp_api.post(f"/api/v1/orders/{order_id}/approve/", {}, format="json")
    assert again.status_code == 409


def test_rejecting_needs_a_reason(msp_api, customer, plan_factory):
    gated = plan_factory(name="Gated", slug="gated", requires_approval=True)
    order_id = msp_api.post(
        "/api/v1/orders/", _body(gated, customer=customer.pk), format="json"
    ).json()["id"]
    no_reason = msp_api.post(f"/api/v1/orders/{order_id}/reject/", {}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["error"]["fields"]
    rejected = msp_api.post(
        f"/api/v1/orders/{order_id}/reject/", {"reason": "Region not contracted."}, format="json"
    )
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["decision_reason"] == "Region not contracted."


def test_a_suspended_customer_cannot_order(api, customer, plan):
    customer.status = "suspended"
    customer.save(update_fields=["status"])
    response = api.post("/api/v1/orders/", _body(plan), format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["error"]["fields"]


def test_orders_filter_by_state_and_reject_an_unknown_state(api, plan):
    api.post("/api/v1/orders/", _body(plan), format="json")
    assert len(api.get("/api/v1/orders/", {"state": "provisioning"}).json()["results"]) == 1
    assert api.get("/api/v1/orders/", {"state": "rejected"}).json()["results"] == []
    bad = api.get("/api/v1/orders/", {"state": "nonsense"})
    assert bad.status_code == 400
    assert "state" in bad.json()["error"]["fields"]


def test_after_the_stored_answer_is_pruned_a_retry_still_places_no_second_order(
    api, plan, customer
):
    from datetime import timedelta

    from django.utils import timezone

    from portal.api.services import IDEMPOTENT_RESPONSE_RETENTION, idempotent_responses_prune

    first = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    later = timezone.now() + IDEMPOTENT_RESPONSE_RETENTION + timedelta(minutes=1)
    assert idempotent_responses_prune(now=timezone.now()) == 0
    assert idempotent_responses_prune(now=later) == 1
    again = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.filter(customer=customer).count() == 1


def test_an_idempotency_key_another_customer_used_places_this_customers_own_order(
    api, plan, customer, customer_factory, api_key_factory, api_client_for
):
    """Keys are per customer: B reusing A's key (and body) must not get A's order back."""
    other = customer_factory(name="Zeta", name_prefix="zeta")
    other_api = api_client_for(api_key_factory(customer=other)[1])
    first = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="shared")

    theirs = other_api.post(
        "/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert first.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != first.json()["id"]
    assert Order.objects.get(pk=theirs.json()["id"]).customer == other
    assert Order.objects.filter(customer=customer).count() == 1
    assert Order.objects.filter(customer=other).count() == 1


def test_another_idempotency_key_from_the_same_customer_places_another_order(api, plan, customer):
    first = api.post("/api/v1/orders/", _body(plan), format="json", HTTP_IDEMPOTENCY_KEY="k-a")
    second = api.post(
        "/api/v1/orders/", _body(plan, name="two"), format="json", HTTP_IDEMPOTENCY_KEY="k-b"
    )
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["name"] == "two"
    assert Order.objects.filter(customer=customer).count() == 2


def test_a_stored_answer_is_found_only_by_its_customer_endpoint_and_key(customer, customer_factory):
    from decimal import Decimal

    from portal.api import services

    stored = services.idempotent_response_store(
        customer=customer, endpoint="orders.create", key="k", fingerprint="f", status_code=201,
        body={"amount": Decimal("1.50")},
    )  # fmt: skip

    assert json.loads(stored.body) == {"amount": "1.50"}
    find = services.idempotent_response_find
    assert find(customer=customer, endpoint="orders.create", key="k") == stored
    assert find(customer=customer, endpoint="orders.create", key="other") is None
    assert find(customer=customer, endpoint="other.create", key="k") is None
    assert find(customer=customer_factory(), endpoint="orders.create", key="k") is None


def test_storing_an_answer_a_concurrent_retry_stored_first_returns_that_one(
    customer, customer_factory
):
    from portal.api import services

    fields = {"customer": customer, "endpoint": "orders.create", "key": "k", "status_code": 201}
    # Neighbours that share all but one of customer, endpoint and key.
    for neighbour in (
        {"customer": customer_factory()},
        {"endpoint": "other.create"},
        {"key": "other"},
    ):
        services.idempotent_response_store(
            **{**fields, **neighbour}, fingerprint="neighbour", body={}
        )
    first = services.idempotent_response_store(**fields, fingerprint="first", body={"id": 1})

    second = services.idempotent_response_store(**fields, fingerprint="second", body={"id": 2})

    assert second.pk == first.pk
    assert second.request_hash == "first"


def test_a_request_fingerprint_ignores_key_order_and_reads_decimals_as_text():
    import hashlib
    from decimal import Decimal

    from portal.api.services import request_hash

    assert request_hash({"plan": 1, "name": "media"}) == request_hash({"name": "media", "plan": 1})
    assert request_hash({"units": Decimal("1.5")}) == request_hash({"units": "1.5"})
    # Stored fingerprints outlive a deploy: the canonical form is part of the contract.
    canonical = b'{"name":"media","plan":1}'
    assert request_hash({"plan": 1, "name": "media"}) == hashlib.sha256(canonical).hexdigest()
