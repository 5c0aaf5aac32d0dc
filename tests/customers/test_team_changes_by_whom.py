"""Who may change a team: a manager of *this* organisation, as their role is now.

Found by `make mutate TARGETS=membership`: the acting membership could be looked up without its
customer, without its own id, or let through a plain member, and tests/customers stayed green.
"""

import pytest

from portal.actions import Code, Refused
from portal.customers import services
from portal.customers.models import Membership

pytestmark = pytest.mark.django_db
REFUSAL = ["Your role does not allow you to change the team."]


def _refused(change) -> Refused:
    with pytest.raises(Refused) as refused:
        change()
    assert refused.value.code == Code.FORBIDDEN
    assert refused.value.messages == REFUSAL
    return refused.value


def test_a_manager_of_another_organisation_cannot_change_this_team(member_factory):
    owner = member_factory(role="owner")
    target = member_factory(role="member", customer=owner.customer)
    outsider = member_factory(role="owner")  # owner of another organisation
    _refused(lambda: services.membership_remove(membership=target, acting=outsider))
    _refused(
        lambda: services.membership_change_role(membership=target, role="admin", acting=outsider)
    )
    target.refresh_from_db()
    assert target.role == "member"


def test_a_plain_member_cannot_change_the_team_even_when_a_manager_joined_first(member_factory):
    owner = member_factory(role="owner")  # the organisation's first membership
    plain = member_factory(role="member", customer=owner.customer)
    target = member_factory(role="billing", customer=owner.customer)
    _refused(lambda: services.membership_remove(membership=target, acting=plain))
    _refused(lambda: services.membership_change_role(membership=target, role="admin", acting=plain))
    assert Membership.objects.filter(pk=target.pk, role="billing").exists()


def test_the_acting_role_is_read_fresh_not_from_the_callers_copy(member_factory):
    owner = member_factory(role="owner")
    demoted = member_factory(role="admin", customer=owner.customer)
    target = member_factory(role="member", customer=owner.customer)
    Membership.objects.filter(pk=demoted.pk).update(role="member")  # demoted meanwhile
    _refused(lambda: services.membership_remove(membership=target, acting=demoted))
    assert Membership.objects.filter(pk=target.pk).exists()
