"""API keys: hashed, shown once, revocable, last-used, MSP vs customer, rate limited."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.apikeys.models import ApiKey
from portal.apikeys.services import apikey_revoke

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_only_as_a_hash(api_key_factory):
    key, raw = api_key_factory()
    row = ApiKey.objects.get(pk=key.pk)
    stored = " ".join(str(getattr(row, f.attname)) for f in ApiKey._meta.fields)
    assert raw.startswith("fsp_")
    assert raw not in stored
    assert raw[len("fsp_") + 9 :] not in stored
    assert raw not in repr(row) and raw not in str(row)


def test_a_request_without_a_key_gets_401_in_the_error_shape(client):
    response = client.get("/api/v1/plans/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_unknown_key_gets_401(api_client_for, api_key_factory):
    _key, raw = api_key_factory()
    response = api_client_for(raw[:-2] + "xx").get("/api/v1/plans/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    # The client is told what can be wrong with its key, in words.
    assert response.json()["error"]["message"] == (
        "This API key is not valid: it is unknown, revoked or no longer allowed."
    )


def test_a_key_after_more_than_one_space_still_authenticates(api_key_factory, client):
    _key, raw = api_key_factory()
    response = client.get("/api/v1/plans/", HTTP_AUTHORIZATION=f"Bearer   {raw}")
    assert response.status_code == 200


def test_a_revoked_key_gets_401(api_key_factory, api_client_for, staff_user):
    key, raw = api_key_factory()
    api = api_client_for(raw)
    assert api.get("/api/v1/plans/").status_code == 200
    apikey_revoke(apikey=key, acting_user=staff_user)
    response = api.get("/api/v1/plans/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_an_msp_key_stops_working_when_its_creator_is_no_longer_staff(
    api_key_factory, api_client_for, staff_user
):
    _key, raw = api_key_factory()
    staff_user.is_staff = False
    staff_user.save(update_fields=["is_staff"])
    assert api_client_for(raw).get("/api/v1/plans/").status_code == 401


def test_a_customer_key_stops_working_when_the_customer_is_terminated(
    api_key_factory, api_client_for, customer_factory
):
    customer = customer_factory()
    _key, raw = api_key_factory(customer=customer)
    customer.status = "terminated"
    customer.save(update_fields=["status"])
    assert api_client_for(raw).get("/api/v1/plans/").status_code == 401


def test_using_a_key_records_its_last_use(api_key_factory, api_client_for):
    key, raw = api_key_factory()
    assert key.last_used_at is None
    api_client_for(raw).get("/api/v1/plans/")
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)


def test_a_member_without_a_manager_role_cannot_create_a_customer_key(
    api_key_factory, member_factory
):
    from django.core.exceptions import ValidationError

    member = member_factory(role="member")
    with pytest.raises(ValidationError, match="owners and admins"):
        api_key_factory(customer=member.customer, created_by=member.user)


def test_createapikey_prints_the_key_once_for_a_staff_member(staff_user, api_client_for):
    out, err = StringIO(), StringIO()
    call_command("createapikey", "--email", staff_user.email, stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("fsp_")
    assert raw not in err.getvalue()
    key = ApiKey.objects.get()
    assert key.is_msp and key.created_by == staff_user
    assert api_client_for(raw).get("/api/v1/customers/").status_code == 200


def test_createapikey_refuses_someone_who_is_not_staff(user_factory):
    user = user_factory(email="plain@example.com")
    with pytest.raises(CommandError, match="not active staff"):
        call_command("createapikey", "--email", user.email, stdout=StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("createapikey", "--email", "nobody@example.com", stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_too_many_requests_get_429_with_retry_after(api_key_factory, api_client_for, monkeypatch):
    from portal.api.throttling import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"apikey": "3/min", "anon": "3/min"})
    api = api_client_for(api_key_factory()[1])
    codes = [api.get("/api/v1/plans/").status_code for _ in range(3)]
    last = api.get("/api/v1/plans/")
    assert codes == [200, 200, 200]
    assert last.status_code == 429
    assert 0 < int(last.headers["Retry-After"]) <= 60
    assert last.json()["error"]["code"] == "throttled"


def test_rate_limits_are_counted_per_key(api_key_factory, api_client_for, monkeypatch):
    from portal.api.throttling import ApiKeyRateThrottle

    first = api_client_for(api_key_factory(name="one")[1])
    second = api_client_for(api_key_factory(name="two")[1])
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"apikey": "2/min", "anon": "2/min"})
    assert [first.get("/api/v1/plans/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/plans/").status_code == 200


def test_a_customer_key_stops_working_when_its_creator_is_no_longer_a_manager(
    api_key_factory, api_client_for, member_factory, customer_factory
):
    customer = customer_factory()
    admin = member_factory(role="admin", customer=customer)
    _key, raw = api_key_factory(customer=customer, created_by=admin.user)
    api = api_client_for(raw)
    assert api.get("/api/v1/orders/").status_code == 200
    admin.role = "member"
    admin.save(update_fields=["role"])
    assert api.get("/api/v1/orders/").status_code == 401


def test_a_key_depends_on_its_creators_role_in_the_keys_organisation_only(
    api_key_factory, api_client_for, member_factory, customer_factory
):
    # The creator is also an owner elsewhere, and the key's organisation keeps another owner:
    # neither keeps the key alive once its creator is no longer a manager where the key belongs.
    customer, elsewhere = customer_factory(), customer_factory()
    member_factory(role="owner", customer=customer)
    admin = member_factory(role="admin", customer=customer)
    member_factory(role="owner", customer=elsewhere, user=admin.user)
    _key, raw = api_key_factory(customer=customer, created_by=admin.user)
    api = api_client_for(raw)
    assert api.get("/api/v1/orders/").status_code == 200
    admin.role = "member"
    admin.save(update_fields=["role"])
    assert api.get("/api/v1/orders/").status_code == 401


def test_a_customer_key_stops_working_when_its_creator_is_deactivated_or_deleted(
    api_key_factory, api_client_for, member_factory, customer_factory
):
    # The creator stays an owner on paper: only their account changes.
    customer = customer_factory()
    deactivated = member_factory(role="owner", customer=customer)
    deleted = member_factory(role="admin", customer=customer)
    _key, raw_of_deactivated = api_key_factory(customer=customer, created_by=deactivated.user)
    _key, raw_of_deleted = api_key_factory(customer=customer, created_by=deleted.user)
    assert api_client_for(raw_of_deactivated).get("/api/v1/orders/").status_code == 200
    assert api_client_for(raw_of_deleted).get("/api/v1/orders/").status_code == 200

    deactivated.user.is_active = False
    deactivated.user.save(update_fields=["is_active"])
    deleted.user.delete()  # the key's created_by becomes NULL

    assert api_client_for(raw_of_deactivated).get("/api/v1/orders/").status_code == 401
    assert api_client_for(raw_of_deleted).get("/api/v1/orders/").status_code == 401


def test_a_suspended_organisation_cannot_create_keys(member_factory, customer_factory):
    from django.core.exceptions import ValidationError

    from portal.apikeys.services import apikey_create

    owner = member_factory(role="owner", customer=customer_factory(status="suspended"))
    with pytest.raises(ValidationError, match="suspended"):
        apikey_create(name="x", created_by=owner.user, customer=owner.customer)
    assert not ApiKey.objects.exists()


def test_creating_and_revoking_keys_is_audited_without_the_key(api_key_factory, staff_user):
    from portal.audit.models import AuditEntry

    key, raw = api_key_factory()
    apikey_revoke(apikey=key, acting_user=staff_user)
    apikey_revoke(apikey=key, acting_user=staff_user)  # a second revoke changes nothing
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["apikey.created", "apikey.revoked"]
    assert all(e.actor == staff_user for e in entries)
    assert raw not in str([(e.before, e.after, e.note, e.target_label) for e in entries])


@pytest.mark.parametrize(
    ("raw", "queries"),
    [
        ("", 0),
        ("not-a-key", 0),
        ("Bearer fsp_x", 0),
        ("fsp_" + "a" * 97, 0),  # 101 characters: longer than any key
        ("fsp_" + "a" * 96, 1),  # 100 characters: looked up
    ],
)
def test_a_bearer_string_that_cannot_be_a_key_is_refused_without_a_query(
    raw, queries, django_assert_num_queries
):
    from portal.apikeys.services import apikey_authenticate

    with django_assert_num_queries(queries):
        assert apikey_authenticate(raw=raw) is None


def test_authenticating_a_key_reads_it_with_its_organisation_and_creator_in_one_query(
    api_key_factory, customer_factory, django_assert_num_queries, time_machine
):
    # Every API request authenticates: the key, its organisation and its creator come in one
    # query; a customer key adds the check that its creator still manages the organisation.
    from portal.apikeys.services import apikey_authenticate

    time_machine.move_to("2026-06-10T12:00:00Z", tick=False)
    _msp_key, msp_raw = api_key_factory()
    _customer_key, customer_raw = api_key_factory(customer=customer_factory())
    apikey_authenticate(raw=msp_raw)  # records the last use; within a minute, no write again
    apikey_authenticate(raw=customer_raw)
    with django_assert_num_queries(1):
        assert apikey_authenticate(raw=msp_raw).is_msp
    with django_assert_num_queries(2):
        assert apikey_authenticate(raw=customer_raw).customer.status == "active"


@pytest.mark.parametrize("name", ["", "   ", None])
def test_a_key_without_a_name_is_refused_on_the_name_field(name, staff_user):
    from django.core.exceptions import ValidationError

    from portal.apikeys.services import apikey_create

    with pytest.raises(ValidationError) as refused:
        apikey_create(name=name, created_by=staff_user)
    assert refused.value.message_dict == {
        "name": ["Give the key a name that says where it is used."]
    }
    assert not ApiKey.objects.exists()


def test_a_key_name_fits_the_column_of_100_characters_and_no_more(staff_user):
    from django.core.exceptions import ValidationError

    from portal.apikeys.services import apikey_create

    key, _raw = apikey_create(name=" " + "n" * 100 + " ", created_by=staff_user)
    assert key.name == "n" * 100  # trimmed, then exactly as long as the column
    with pytest.raises(ValidationError) as refused:
        apikey_create(name="n" * 101, created_by=staff_user)
    assert refused.value.message_dict == {"name": ["Keep the name to 100 characters or fewer."]}
