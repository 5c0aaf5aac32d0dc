"""Key and webhook pages: customer keys for owners/admins, MSP keys and deliveries for staff."""

import pytest

from portal.apikeys.models import ApiKey
from portal.webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, member_factory):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    client.customer = owner.customer
    return client


@pytest.fixture
def mfa_staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_an_owner_creates_a_key_that_is_shown_once_and_works(owner_client, api_client_for):
    response = owner_client.post("/api-keys/", {"name": "Export script"})
    assert response.status_code == 302
    assert response["Location"] == "/api-keys/"
    key = ApiKey.objects.get()
    page = owner_client.get("/api-keys/")
    raw = page.context["new_key"]
    assert raw in page.content.decode()
    assert 'data-copy-target="#new-key"' in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert key.customer == owner_client.customer
    assert raw not in owner_client.get("/api-keys/").content.decode()
    assert api_client_for(raw).get("/api/v1/orders/").status_code == 200


def test_refreshing_after_creating_a_key_creates_no_second_key(owner_client):
    response = owner_client.post("/api-keys/", {"name": "Export script"}, follow=True)
    assert response.redirect_chain == [("/api-keys/", 302)]
    raw = response.context["new_key"]
    # The browser's refresh repeats the GET it landed on, never the POST.
    refreshed = owner_client.get(response.redirect_chain[-1][0])
    assert ApiKey.objects.count() == 1
    assert refreshed.context["new_key"] is None
    assert raw not in refreshed.content.decode()


def test_the_new_key_waits_in_the_session_encrypted(owner_client):
    owner_client.post("/api-keys/", {"name": "Export script"})
    stored = owner_client.session["onetime:apikey"]
    raw = owner_client.get("/api-keys/").context["new_key"]
    assert raw.startswith("fsp_") and raw not in stored


def test_revoking_on_the_page_makes_the_key_fail(owner_client, api_client_for):
    raw = owner_client.post("/api-keys/", {"name": "Temp"}, follow=True).context["new_key"]
    key = ApiKey.objects.get()
    assert owner_client.post(f"/api-keys/{key.pk}/revoke/").status_code == 302
    assert api_client_for(raw).get("/api/v1/orders/").status_code == 401
    assert "revoked" in owner_client.get("/api-keys/").content.decode()


def test_an_empty_name_is_refused_with_a_message(owner_client):
    response = owner_client.post("/api-keys/", {"name": "  "})
    assert response.status_code == 200
    assert not ApiKey.objects.exists()
    assert response.context["form"].errors


def test_a_plain_member_cannot_reach_the_key_page(client, member_factory):
    member = member_factory(role="member")
    client.force_login(member.user)
    assert client.get("/api-keys/").status_code == 302
    assert client.post("/api-keys/", {"name": "x"}).status_code == 302
    assert not ApiKey.objects.exists()


def test_an_owner_cannot_revoke_another_organisations_key(
    owner_client, api_key_factory, customer_factory
):
    other, _raw = api_key_factory(customer=customer_factory())
    assert owner_client.post(f"/api-keys/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_customers_cannot_reach_the_msp_pages(owner_client):
    assert owner_client.get("/api-keys/msp/").status_code == 403
    assert owner_client.post("/api-keys/msp/", {"name": "x"}).status_code == 403
    assert owner_client.get("/api-keys/msp/deliveries/").status_code == 403


def test_staff_without_two_factor_are_sent_to_set_it_up(client, user_factory):
    client.force_login(user_factory("nomfa@msp.example", is_staff=True))
    response = client.get("/api-keys/msp/")
    assert response.status_code == 302 and "totp/activate" in response.url


def test_staff_create_an_msp_key(mfa_staff_client, api_client_for):
    response = mfa_staff_client.post("/api-keys/msp/", {"name": "Billing sync"}, follow=True)
    assert response.redirect_chain == [("/api-keys/msp/", 302)]
    raw = response.context["new_key"]
    assert ApiKey.objects.get().is_msp
    assert api_client_for(raw).get("/api/v1/customers/").status_code == 200


def test_an_owner_adds_a_webhook_and_sees_the_secret_once(owner_client):
    response = owner_client.post(
        "/api-keys/webhooks/",
        {"url": "http://127.0.0.1:9/hooks", "event_types": ["order.placed", "filespace.active"]},
        follow=True,
    )
    assert response.redirect_chain == [("/api-keys/webhooks/", 302)], response.context[
        "form"
    ].errors
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    subscription = Subscription.objects.get()
    assert subscription.customer == owner_client.customer
    assert secret not in owner_client.get("/api-keys/webhooks/").content.decode()


def test_a_bad_webhook_url_shows_the_reason(owner_client):
    response = owner_client.post(
        "/api-keys/webhooks/", {"url": "https://10.0.0.1/x", "event_types": ["order.placed"]}
    )
    assert not Subscription.objects.exists()
    assert "private or local" in response.content.decode()


def test_staff_replay_a_failed_delivery_from_the_log(
    mfa_staff_client, staff_user, customer_factory, django_capture_on_commit_callbacks
):
    from portal.webhooks.services import subscription_create, webhook_emit

    subscription_create(
        url="http://127.0.0.1:9/x", event_types=["order.placed"], created_by=staff_user
    )
    webhook_emit(event_type="order.placed", customer=customer_factory(), dedupe_key="p:1", data={})
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(state="failed", attempts=8)
    page = mfa_staff_client.get("/api-keys/msp/deliveries/", {"state": "failed"})
    assert f"/api-keys/msp/deliveries/{delivery.pk}/replay/" in page.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = mfa_staff_client.post(f"/api-keys/msp/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 0
    assert len(callbacks) == 1
