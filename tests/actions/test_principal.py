"""Building the principal at the edge: which request, value and user becomes which principal.

The matrix builds its principals with `Principal.for_user(...)` directly; these pin the other
constructors (`from_request`, `of`) and how a staff user's second factor is read.
"""

import secrets

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from portal.actions import Code, Principal, Refused, guards
from portal.actions.principal import Side

pytestmark = pytest.mark.django_db


def _key(customer=None, created_by=None):
    from portal.apikeys.models import ApiKey
    from portal.apikeys.services import KEY_PREFIX, hash_key

    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(16)}"
    return ApiKey.objects.create(
        name="principal", customer=customer, prefix=prefix, key_hash=hash_key(raw),
        created_by=created_by,
    )  # fmt: skip


def test_a_web_request_acts_as_its_user(member_factory):
    membership = member_factory(role="owner")
    request = RequestFactory().get("/")
    request.user = membership.user
    by = Principal.from_request(request)
    assert by.user == membership.user
    assert by.api_key is None
    assert by.role_in(membership.customer) == "owner"


def test_an_api_request_acts_as_its_key_not_as_the_person_who_made_it(member_factory):
    membership = member_factory(role="reader")
    key = _key(membership.customer, created_by=membership.user)
    request = RequestFactory().get("/")
    request.user, request.auth = membership.user, key  # what ApiKeyAuthentication sets
    by = Principal.from_request(request)
    assert by.api_key == key
    assert by.user is None
    assert by.role_in(membership.customer) == "admin"


def test_a_request_whose_auth_is_not_an_api_key_acts_as_its_user(member_factory):
    membership = member_factory(role="owner")
    request = RequestFactory().get("/")
    request.user, request.auth = membership.user, "a session token"
    by = Principal.from_request(request)
    assert by.user == membership.user
    assert by.api_key is None


def test_of_accepts_a_principal_a_key_a_user_or_nothing(member_factory):
    membership = member_factory(role="owner")
    key = _key(membership.customer, created_by=membership.user)
    by = Principal.for_user(membership.user)
    assert Principal.of(by) is by
    assert Principal.of(None).is_system
    from_key = Principal.of(key)
    assert (from_key.api_key, from_key.user) == (key, None)
    from_user = Principal.of(membership.user)
    assert (from_user.user, from_user.api_key) == (membership.user, None)
    assert from_user.side == Side.CUSTOMER


def test_staff_count_as_having_a_second_factor_only_with_totp(user_factory):
    from allauth.mfa.models import Authenticator

    with_totp = user_factory("totp@msp.example", is_staff=True, mfa=True)
    assert Principal.for_user(with_totp).mfa is True
    assert Principal.of(with_totp).mfa is True
    without = user_factory("none@msp.example", is_staff=True)
    assert Principal.for_user(without).mfa is False
    # Recovery codes alone (left over, or made without TOTP) are not a second factor.
    codes_only = user_factory("codes@msp.example", is_staff=True)
    Authenticator.objects.create(
        user=codes_only, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00" * 20}
    )
    assert Principal.for_user(codes_only).mfa is False
    assert Principal.for_user(AnonymousUser()).mfa is False


def test_an_explicit_second_factor_overrides_the_lookup(user_factory):
    staff = user_factory("ops@msp.example", is_staff=True, mfa=True)
    assert Principal.for_user(staff, mfa=False).mfa is False
    plain = user_factory("plain@msp.example", is_staff=True)
    assert Principal.for_user(plain, mfa=True).mfa is True


def test_staff_without_a_second_factor_are_told_to_set_one_up(user_factory, member_factory):
    customer = member_factory(role="owner").customer
    staff = Principal.for_user(user_factory("ops@msp.example", is_staff=True))
    for check in (
        lambda: guards.require_msp(staff, what="approve orders"),
        lambda: guards.require_msp_or_system(staff, what="approve orders"),
        lambda: guards.require_role(staff, customer, ["owner"], what="approve orders"),
    ):
        with pytest.raises(Refused) as refused:
            check()
        assert refused.value.code == Code.MFA_REQUIRED
        assert refused.value.messages == [
            "Set up two-factor authentication before you approve orders."
        ]
    # An MSP key has no person to prove a second factor; its side is enough.
    msp_key = Principal.for_key(_key())
    guards.require_msp(msp_key, what="approve orders")
    guards.require_role(msp_key, customer, ["owner"], what="approve orders")


def test_a_customer_side_principal_is_refused_msp_work_by_name(settings, member_factory):
    settings.MSP_NAME = "Northwind"
    member = Principal.for_user(member_factory(role="owner").user)
    with pytest.raises(Refused) as refused:
        guards.require_msp(member, what="approve orders")
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.messages == ["Only Northwind staff can approve orders."]


def test_a_role_outside_the_allowed_ones_is_refused_and_the_system_always_passes(
    member_factory,
):
    membership = member_factory(role="reader")
    by = Principal.for_user(membership.user)
    guards.require_role(by, membership.customer, ["reader", "owner"], what="read")
    with pytest.raises(Refused) as refused:
        guards.require_role(by, membership.customer, ["owner", "admin"], what="delete filespaces")
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.messages == ["Your role does not allow you to delete filespaces."]
    guards.require_role(Principal.system(), membership.customer, [], what="delete filespaces")


def test_locking_a_customer_reads_its_status_from_the_database(customer_factory):
    customer = customer_factory()
    type(customer).objects.filter(pk=customer.pk).update(status="suspended")
    assert customer.status == "active"  # the instance is stale; the lock reads the row
    assert guards.lock_customer(customer) == "suspended"
    guards.require_active_customer(Principal.system(), customer_factory(), what="order")
