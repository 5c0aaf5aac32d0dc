"""Customers, filespaces, usage, invoices, plans and audit entries through the API."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.customers.models import Customer
from provisioning.models import Filespace, ProvisioningEvent
from tests.api.helpers import make_invoice

pytestmark = pytest.mark.django_db


def _sample(filespace, slot: datetime, used: int):
    from billing.models import UsageSample

    return UsageSample.objects.create(
        filespace=filespace, customer=filespace.customer, slot=slot, sampled_at=slot,
        used_storage=used, filespace_size=used, users_count=1, get_request_count=0,
        get_data_size=0, put_request_count=0, put_data_size=0, list_request_count=0,
        delete_request_count=0,
    )  # fmt: skip


def test_an_msp_key_creates_a_customer_with_a_derived_prefix(msp_api, staff_user):
    response = msp_api.post(
        "/api/v1/customers/",
        {"name": "Blue Fish Media", "billing_email": "ap@bluefish.example", "country": "gb"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name_prefix"] == "bluefishmedi"
    assert body["country"] == "GB"
    customer = Customer.objects.get(pk=body["id"])
    assert customer.created_by == staff_user
    assert not customer.memberships.exists()


def test_an_unknown_country_code_is_refused_by_the_api(msp_api):
    response = msp_api.post(
        "/api/v1/customers/",
        {"name": "Blue Fish Media", "billing_email": "ap@bluefish.example", "country": "XX"},
        format="json",
    )
    assert response.status_code == 400
    assert "ISO 3166-1" in str(response.json())
    assert not Customer.objects.exists()


def test_creating_a_customer_with_bad_fields_names_them(msp_api):
    response = msp_api.post(
        "/api/v1/customers/", {"name": "", "billing_email": "nope", "country": "GBR"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"name", "billing_email", "country"}
    assert not Customer.objects.exists()


def test_a_customer_key_cannot_create_customers(customer_factory, api_key_factory, api_client_for):
    api = api_client_for(api_key_factory(customer=customer_factory())[1])
    body = {"name": "X", "billing_email": "x@example.com", "country": "GB"}
    response = api.post("/api/v1/customers/", body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_msp_key_suspends_and_resumes_a_customer_with_an_audit_trail(msp_api, customer_factory):
    customer = customer_factory()
    url = f"/api/v1/customers/{customer.pk}"
    assert msp_api.post(f"{url}/suspend/", {}, format="json").status_code == 400
    suspended = msp_api.post(f"{url}/suspend/", {"reason": "Unpaid invoices"}, format="json")
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert msp_api.post(f"{url}/suspend/", {"reason": "again"}, format="json").status_code == 409
    resumed = msp_api.post(f"{url}/resume/", {}, format="json")
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    actions = [e["action"] for e in msp_api.get("/api/v1/audit-entries/").json()["results"]]
    assert actions[:2] == ["customer.resumed", "customer.suspended"]
    only = msp_api.get("/api/v1/audit-entries/", {"action": "customer.susp"}).json()["results"]
    assert [e["action"] for e in only] == ["customer.suspended"]


def test_a_filespace_reads_with_its_timeline(msp_api, filespace_factory):
    from provisioning.services import event_record

    filespace = filespace_factory(state="provisioned", domain_name="msp-demo")
    event_record(filespace=filespace, kind=ProvisioningEvent.Kind.REQUESTED, message="Placed.")
    event_record(filespace=filespace, kind=ProvisioningEvent.Kind.PROVISIONED, message="Ready.")
    body = msp_api.get(f"/api/v1/filespaces/{filespace.pk}/").json()
    assert body["state"] == "provisioned"
    assert body["qualified_name"] == f"{filespace.remote_name}.msp-demo"
    assert [e["kind"] for e in body["events"]] == ["requested", "provisioned"]
    assert "root_password" not in body


def test_deleting_a_filespace_answers_202_and_starts_the_deletion(
    filespace_factory, api_key_factory, api_client_for, django_capture_on_commit_callbacks
):
    filespace = filespace_factory(state="active", remote_id="fs-1")
    api = api_client_for(api_key_factory(customer=filespace.customer)[1])
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.delete(f"/api/v1/filespaces/{filespace.pk}/")
    assert response.status_code == 202
    assert response.json()["state"] == "deleting"
    assert len(callbacks) >= 1  # the delete task is sent after commit
    assert api.delete(f"/api/v1/filespaces/{filespace.pk}/").status_code == 409


def test_a_suspended_customer_key_cannot_delete(filespace_factory, api_key_factory, api_client_for):
    filespace = filespace_factory(state="active", remote_id="fs-1")
    api = api_client_for(api_key_factory(customer=filespace.customer)[1])
    Customer.objects.filter(pk=filespace.customer_id).update(status="suspended")
    response = api.delete(f"/api/v1/filespaces/{filespace.pk}/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "customer_locked"
    filespace.refresh_from_db()
    assert filespace.state == Filespace.State.ACTIVE


def test_usage_samples_page_with_a_cursor_and_filter_by_time(msp_api, filespace_factory):
    filespace = filespace_factory(state="active", remote_id="fs-1")
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for hour in range(5):
        _sample(filespace, start + timedelta(hours=hour), used=1000 * (hour + 1))
    url = f"/api/v1/filespaces/{filespace.pk}/usage/samples/"
    first = msp_api.get(url, {"page_size": 2}).json()
    assert [s["used_storage"] for s in first["results"]] == [5000, 4000]
    seen = [s["used_storage"] for s in first["results"]]
    next_url = first["next"]
    while next_url:
        page = msp_api.get(next_url).json()
        seen += [s["used_storage"] for s in page["results"]]
        next_url = page["next"]
    assert seen == [5000, 4000, 3000, 2000, 1000]
    window = msp_api.get(
        url, {"start": "2026-05-01T01:00:00Z", "end": "2026-05-01T03:00:00Z"}
    ).json()
    assert [s["used_storage"] for s in window["results"]] == [3000, 2000]
    assert msp_api.get(url, {"start": "yesterday"}).status_code == 400


def test_daily_usage_lists_rollups(msp_api, filespace_factory):
    from billing.services.usage import usage_rollup_days

    filespace = filespace_factory(state="active", remote_id="fs-1")
    for hour in range(3):
        _sample(filespace, datetime(2026, 5, 1, hour, tzinfo=UTC), used=100)
    usage_rollup_days(days=[date(2026, 5, 1)])
    rows = msp_api.get(f"/api/v1/filespaces/{filespace.pk}/usage/daily/").json()["results"]
    assert len(rows) == 1
    assert rows[0]["day"] == "2026-05-01" and rows[0]["sample_count"] == 3
    assert rows[0]["used_storage_max"] == 100


def test_an_invoice_reads_with_lines_and_downloads_as_csv(msp_api, customer_factory):
    invoice = make_invoice(customer_factory())
    body = msp_api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert body["number"] == invoice.number and Decimal(body["total"]) == Decimal("10")
    assert [line["description"] for line in body["lines"]] == ["Setup"]
    csv = msp_api.get(f"/api/v1/invoices/{invoice.pk}/csv/")
    assert csv.status_code == 200
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert invoice.number in csv.content.decode()
    listed = msp_api.get("/api/v1/invoices/", {"period": "2026-05"}).json()["results"]
    assert [row["id"] for row in listed] == [invoice.pk]
    assert msp_api.get("/api/v1/invoices/", {"period": "2026-13"}).status_code == 400


def test_plans_list_filters_by_provider_and_customers_see_only_active_plans(
    plan_factory, customer_factory, api_key_factory, api_client_for, msp_api
):
    ibm = plan_factory(provider="IBM")
    plan_factory(provider="AWS", allowed_regions=["us-east-1"])
    withdrawn = plan_factory(is_active=False)
    ids = [p["id"] for p in msp_api.get("/api/v1/plans/", {"provider": "IBM"}).json()["results"]]
    assert ibm.pk in ids and withdrawn.pk in ids
    api = api_client_for(api_key_factory(customer=customer_factory())[1])
    customer_ids = [p["id"] for p in api.get("/api/v1/plans/").json()["results"]]
    assert withdrawn.pk not in customer_ids and ibm.pk in customer_ids
    assert api.get(f"/api/v1/plans/{withdrawn.pk}/").status_code == 404


def test_unknown_ids_and_non_numeric_ids_are_404_in_the_error_shape(msp_api):
    for url in ("/api/v1/orders/999999/", "/api/v1/orders/abc/", "/api/v1/nothing/here"):
        response = msp_api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found", url
    huge = msp_api.get("/api/v1/orders/", {"customer": str(2**70)})
    assert huge.status_code == 400


def test_the_schema_and_the_docs_page_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/orders/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_listing_orders_and_filespaces_costs_the_same_queries_for_one_or_many(
    msp_api, filespace_factory, django_assert_max_num_queries
):
    filespace_factory(state="active")
    with django_assert_max_num_queries(6) as one:
        msp_api.get("/api/v1/orders/")
    for _ in range(6):
        filespace_factory(state="active")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(msp_api.get("/api/v1/orders/").json()["results"]) == 7
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(msp_api.get("/api/v1/filespaces/").json()["results"]) == 7


def test_a_customer_key_lists_its_orders_with_their_filespaces_in_constant_queries(
    api_key_factory, api_client_for, customer_factory, filespace_factory,
    django_assert_max_num_queries,
):  # fmt: skip
    """Each order shows its filespace's id: read with the order (orders_for), not per row."""
    customer = customer_factory()
    api = api_client_for(api_key_factory(customer=customer)[1])
    filespace_factory(state="active", customer=customer)
    with django_assert_max_num_queries(8) as one:
        api.get("/api/v1/orders/")
    for _ in range(6):
        filespace_factory(state="active", customer=customer)
    with django_assert_max_num_queries(len(one.captured_queries)):
        orders = api.get("/api/v1/orders/").json()["results"]
    assert len(orders) == 7 and all(order["filespace"] for order in orders)


def test_the_schema_tells_clients_to_send_the_key_as_a_bearer_token(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    assert "Authorization: Bearer fsp_" in next(iter(schemes.values()))["description"]
