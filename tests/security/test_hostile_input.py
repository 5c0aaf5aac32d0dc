"""Hostile input gets a clear 4xx in the surface's own shape, never a 500 (issue #16)."""

import base64

import pytest
from django.core import mail
from django.urls import reverse

from portal.customers import services
from portal.customers.models import Customer, Invitation

pytestmark = pytest.mark.django_db


def test_deeply_nested_json_is_a_400_in_the_api_error_shape(msp_api):
    response = msp_api.post("/api/v1/orders/", "[" * 50_000, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested too deeply" in response.json()["error"]["message"]


def test_a_nul_inside_a_json_string_is_a_400(msp_api):
    body = {"name": "Acme\u0000", "billing_email": "a@example.com", "country": "GB"}
    response = msp_api.post("/api/v1/customers/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Customer.objects.exists()


@pytest.mark.parametrize("position", ["abc", "1e3", "-", "١٢", "9" * 30])
def test_a_cursor_whose_position_is_not_an_id_is_refused_as_invalid(msp_api, position):
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    response = msp_api.get("/api/v1/orders/", {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Invalid cursor"}


def test_a_valid_cursor_still_pages(msp_api):
    cursor = base64.b64encode(b"p=12345").decode()
    assert msp_api.get("/api/v1/orders/", {"cursor": cursor}).status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/orders/regions/?plan=%00", "/staff/audit/?q=%00", "/staff/customers/?q=a%00b"],
)
def test_a_nul_in_a_query_parameter_is_a_400_with_a_message(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 400
    assert b"NUL character" in response.content


def test_a_nul_in_a_form_field_is_a_400(client, user_factory):
    client.force_login(user_factory())
    response = client.post(
        reverse("customers:onboarding"),
        {"name": "Acme", "billing_email": "a@example.com", "country": "G\x00"},
    )
    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_a_nul_in_the_session_cookie_or_a_path_is_a_400(client):
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/").status_code == 400
    client.cookies.clear()
    response = client.get("/invitations/abc%00def/")
    assert response.status_code == 400


def test_a_nul_on_the_api_is_answered_in_the_api_error_shape(msp_api):
    response = msp_api.get("/api/v1/audit-entries/", {"action": "x\x00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("name", ["Evil\r\nBcc: victim@example.com", "Evil\u2028Corp", "A\x07B"])
def test_control_characters_never_reach_an_organisation_name(client, user_factory, name):
    client.force_login(user_factory())
    client.post(
        reverse("customers:onboarding"),
        {"name": name, "billing_email": "a@example.com", "country": "GB"},
    )
    stored = Customer.objects.get().name
    assert stored.isprintable() and stored.startswith(("Evil ", "A B"))


def test_the_api_strips_control_characters_from_an_organisation_name(msp_api):
    body = {"name": "Evil\r\nCorp", "billing_email": "a@example.com", "country": "GB"}
    assert msp_api.post("/api/v1/customers/", body, format="json").status_code == 201
    assert Customer.objects.get().name == "Evil Corp"


def test_an_invitation_from_an_old_name_with_a_newline_is_still_sent(member_factory, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    owner = member_factory(role="owner")
    Customer.objects.filter(pk=owner.customer_id).update(name="Evil\r\nBcc: x@example.com")
    owner.customer.refresh_from_db()
    services._send_invitation(
        invitation=Invitation.objects.create(
            customer=owner.customer,
            email="new@example.com",
            token_hash="a" * 64,
            invited_by=owner.user,
            expires_at="2999-01-01T00:00:00Z",
        ),
        token="t",
    )
    assert mail.outbox[0].subject.endswith("join Evil Bcc: x@example.com")


@pytest.mark.parametrize("query", ["", "?format=nonsense"])
def test_an_error_from_the_csv_endpoint_is_json_in_the_api_shape(msp_api, query):
    response = msp_api.get(f"/api/v1/invoices/0/csv/{query}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
