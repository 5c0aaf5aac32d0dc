"""Force-failing a filespace: the state check, the reason and the audit entry
(`filespace_force_fail`; found by mutating the action's body, docs/testing.md)."""

import pytest
from django.core.exceptions import ValidationError

from portal.actions import Code, Refused
from portal.audit.models import AuditEntry
from provisioning.models import Filespace
from provisioning.services.staff import filespace_force_fail

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(user_factory):
    return user_factory("ops@msp.example", is_staff=True, mfa=True)


@pytest.mark.parametrize("state", ["error", "deleting", "deleted"])
def test_a_filespace_already_failed_or_deleting_is_refused_naming_its_state(
    state, filespace_factory, staff
):
    filespace = filespace_factory(state=state, remote_id="fs-1")
    with pytest.raises(Refused) as refused:
        filespace_force_fail(filespace=filespace, by=staff, reason="stuck")
    assert refused.value.code == Code.INVALID_STATE
    assert refused.value.message_text == f"A filespace in state {state} cannot be failed."
    assert Filespace.objects.get(pk=filespace.pk).state == state


def test_the_audit_entry_says_which_state_the_filespace_was_failed_from(filespace_factory, staff):
    filespace = filespace_factory(state="provisioning", remote_id="fs-1")
    filespace_force_fail(filespace=filespace, by=staff, reason="stuck at LucidLink")
    entry = AuditEntry.objects.get(action="filespace.force_failed")
    assert (entry.before, entry.after) == ({"state": "provisioning"}, {"state": "error"})
    assert entry.note == "stuck at LucidLink"


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_no_reason_is_refused_on_the_reason_field(reason, filespace_factory, staff):
    filespace = filespace_factory(state="provisioning", remote_id="fs-1")
    with pytest.raises(ValidationError) as refused:
        filespace_force_fail(filespace=filespace, by=staff, reason=reason)
    assert refused.value.message_dict == {"reason": ["Say why, in words the customer will read."]}
    assert Filespace.objects.get(pk=filespace.pk).state == "provisioning"
