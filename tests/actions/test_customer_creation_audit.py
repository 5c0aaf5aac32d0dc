"""Creating an organisation is audited as the person who did it, with what was created
(`customer_create`, `customer_create_for_msp`; found by mutating the actions' bodies,
docs/testing.md)."""

import pytest

from portal.actions import Refused
from portal.audit.models import AuditEntry
from portal.customers import services

pytestmark = pytest.mark.django_db


def test_a_sign_up_is_audited_as_the_person_with_the_new_organisations_name_and_prefix(
    user_factory,
):
    user = user_factory("founder@example.com")
    customer = services.customer_create(
        user=user, name="Acme Media", billing_email="billing@acme.example", country="GB"
    )
    entry = AuditEntry.objects.get(action="customer.created")
    assert (entry.actor, entry.actor_label, entry.customer) == (user, user.email, customer)
    assert (entry.target_type.model, entry.target_id) == ("customer", str(customer.pk))
    assert entry.after == {
        "name": "Acme Media",
        "name_prefix": customer.name_prefix,
        "country": "GB",
    }


def test_an_organisation_the_msp_creates_is_audited_and_owned_by_that_staff_member(
    user_factory,
):
    staff = user_factory("ops@msp.example", is_staff=True, mfa=True)
    customer = services.customer_create_for_msp(
        name="Beta Films", billing_email="billing@beta.example", country="GB", by=staff
    )
    customer.refresh_from_db()
    assert customer.created_by == staff
    entry = AuditEntry.objects.get(action="customer.created")
    assert (entry.actor, entry.customer) == (staff, customer)
    assert (entry.target_type.model, entry.target_id) == ("customer", str(customer.pk))
    assert entry.after == {"name": "Beta Films", "name_prefix": customer.name_prefix}
    assert entry.note == "Created by the MSP."


def test_only_msp_staff_create_organisations_for_others_and_are_told_so(user_factory):
    with pytest.raises(Refused) as refused:
        services.customer_create_for_msp(
            name="Gamma", billing_email="b@gamma.example", country="GB",
            by=user_factory("someone@example.com"),
        )  # fmt: skip
    assert refused.value.message_text == "Only Example MSP staff can create customers."
