"""The principal's customer role and the shared guards, beyond the matrix's one customer.

The matrix (test_matrix.py) drives every action for one customer; these pin what it cannot see:
a customer key or a member acting on another customer, and a staff member who is also a member.
"""

import secrets

import pytest

from portal.actions import Code, Principal, Refused, guards
from portal.customers.models import MANAGER_ROLES

pytestmark = pytest.mark.django_db


def _customer_key(customer, created_by):
    from portal.apikeys.models import ApiKey
    from portal.apikeys.services import KEY_PREFIX, hash_key

    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(16)}"
    return ApiKey.objects.create(
        name="guards", customer=customer, prefix=prefix, key_hash=hash_key(raw),
        created_by=created_by,
    )  # fmt: skip


def test_a_customer_key_is_an_admin_of_its_own_customer_only(customer_factory, member_factory):
    ours, theirs = customer_factory(), customer_factory()
    key = _customer_key(ours, member_factory(customer=ours).user)
    by = Principal.for_key(key)
    assert by.role_in(ours) == "admin"
    assert by.role_in(theirs) is None
    guards.require_role(by, ours, MANAGER_ROLES, what="delete filespaces")
    with pytest.raises(Refused) as refused:
        guards.require_role(by, theirs, MANAGER_ROLES, what="delete filespaces")
    assert refused.value.code == Code.FORBIDDEN


def test_a_member_holds_no_role_without_a_customer_or_in_another_one(
    customer_factory, member_factory
):
    membership = member_factory(role="owner")
    by = Principal.for_user(membership.user)
    assert by.role_in(membership.customer) == "owner"
    assert by.role_in(None) is None
    assert by.role_in(customer_factory()) is None


def test_staff_who_are_also_members_hold_no_customer_role(user_factory, member_factory):
    staff = user_factory("both@msp.example", is_staff=True, mfa=True)
    membership = member_factory(role="owner", user=staff)
    assert Principal.for_user(staff).role_in(membership.customer) is None


def test_a_refusal_says_what_was_refused(member_factory):
    member = Principal.for_user(member_factory(role="owner").user)
    with pytest.raises(Refused) as refused:
        guards.require_msp_or_system(member, what="carry out terminations")
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.messages[0].endswith(" staff can carry out terminations.")
    guards.require_msp_or_system(Principal.system(), what="carry out terminations")


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_a_locked_customer_is_told_which_lock_and_staff_are_told_to_resume(
    status, member_factory, user_factory
):
    membership = member_factory(role="owner")
    customer = membership.customer
    type(customer).objects.filter(pk=customer.pk).update(status=status)
    with pytest.raises(Refused) as refused:
        guards.require_active_customer(
            Principal.for_user(membership.user), customer, what="order filespaces"
        )
    assert refused.value.code == Code.CUSTOMER_LOCKED
    assert f"account is {status}, so it cannot order filespaces." in refused.value.messages[0]
    staff = Principal.for_user(user_factory("ops@msp.example", is_staff=True, mfa=True))
    with pytest.raises(Refused) as refused:
        guards.require_active_customer(staff, customer, what="order filespaces")
    assert refused.value.code == Code.CUSTOMER_INACTIVE
    assert (
        f"is {status}; resume the customer before you order filespaces."
        in (refused.value.messages[0])
    )
