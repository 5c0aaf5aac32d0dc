"""The billing details page (customers) and the tax rates page (staff): who may do what."""

from datetime import date
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.urls import reverse

from billing.tax.models import BillingProfile, TaxRate
from portal.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

DETAILS = {
    "legal_name": "Acme Media GmbH",
    "address_line1": "Torstrasse 1",
    "postal_code": "10119",
    "city": "Berlin",
    "country": "DE",
    "tax_number": "de 136 695 976",
}


@pytest.fixture
def staff(user_factory):
    user = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def post_details(client, **changes):
    return client.post(reverse("billing:details"), {**DETAILS, **changes}, follow=True)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_an_owner_or_admin_saves_the_billing_details_audited(client, member_factory, role):
    member = member_factory(role=role)
    client.force_login(member.user)

    page = post_details(client).content.decode()

    profile = BillingProfile.objects.get(customer=member.customer)
    assert (profile.legal_name, profile.tax_number) == ("Acme Media GmbH", "DE136695976")
    assert "Billing details saved" in page and 'value="DE136695976"' in page
    entry = AuditEntry.objects.get(action="billing_profile.updated")
    assert (entry.customer_id, entry.actor_label) == (member.customer_id, member.user.email)
    assert entry.after["tax_number"] == "DE136695976"


def test_a_billing_member_sees_the_details_but_cannot_change_them(client, member_factory):
    member = member_factory(role="billing")
    client.force_login(member.user)

    page = client.get(reverse("billing:details")).content.decode()
    refused = post_details(client).content.decode()

    assert "Only owners and admins can change these details." in page
    assert 'name="legal_name"' not in page
    assert "Your role does not allow you to change the billing details." in refused
    assert not BillingProfile.objects.exists()


def test_a_plain_member_is_sent_back_to_the_dashboard(client, member_factory):
    member = member_factory(role="member")
    client.force_login(member.user)

    response = client.post(reverse("billing:details"), DETAILS)

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert not BillingProfile.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tax_number": "DE136695977"},
            "not a valid VAT number for Germany: its check digit is wrong",
        ),
        ({"tax_number": "FR40303265045"}, "starts with DE, not FR"),
        ({"country": "US", "tax_number": "12-3456789"}, "cannot check tax numbers from United"),
        ({"legal_name": "Acme\x07GmbH"}, "Legal name contains control characters."),
        ({"legal_name": "x" * 201}, "at most 200 characters"),
        ({"city": "   "}, "This field is required."),
        ({"country": "XX"}, "Select a valid choice."),
        ({"tax_number": "' OR 1=1 --"}, "at most 40 letters, digits"),
    ],
)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    client, member_factory, changes, message
):
    member = member_factory(role="owner")
    client.force_login(member.user)

    response = post_details(client, **changes)

    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not BillingProfile.objects.exists() and not AuditEntry.objects.exists()


def test_a_nul_byte_is_refused_before_the_page(client, member_factory):
    member = member_factory(role="owner")
    client.force_login(member.user)

    response = client.post(reverse("billing:details"), {**DETAILS, "city": "Ber\x00lin"})

    assert response.status_code == 400 and not BillingProfile.objects.exists()


def test_each_organisation_sees_and_changes_only_its_own_details(client, member_factory):
    mine, theirs = member_factory(role="owner"), member_factory(role="owner")
    client.force_login(theirs.user)
    post_details(client, legal_name="Their Secret Ltd", country="GB", tax_number="")
    client.force_login(mine.user)

    page = client.get(reverse("billing:details")).content.decode()
    post_details(client)

    assert "Their Secret Ltd" not in page
    assert BillingProfile.objects.get(customer=theirs.customer).legal_name == "Their Secret Ltd"
    assert BillingProfile.objects.get(customer=mine.customer).legal_name == "Acme Media GmbH"


def test_a_suspended_customer_may_fix_its_details_a_terminated_one_not(client, member_factory):
    member = member_factory(role="owner")
    client.force_login(member.user)
    member.customer.status = "suspended"
    member.customer.save()
    post_details(client)
    member.customer.status = "terminated"
    member.customer.save()

    refused = post_details(client, legal_name="Changed Later").content.decode()

    assert BillingProfile.objects.get(customer=member.customer).legal_name == "Acme Media GmbH"
    assert "The account is terminated" in refused


def test_the_billing_pages_link_to_the_billing_details(client, member_factory):
    member = member_factory(role="billing")
    client.force_login(member.user)

    for name in ("billing:usage", "billing:invoices", "billing:details"):
        assert reverse("billing:details") in client.get(reverse(name)).content.decode()


def test_staff_add_a_tax_rate_audited_and_see_every_rate(client, staff):
    client.force_login(staff)
    data = {"country": "DE", "name": "VAT", "percent": "19", "valid_from": "2026-01-01"}

    page = client.post(reverse("billing:staff_tax_rates"), data, follow=True).content.decode()
    client.post(reverse("billing:staff_tax_rates"), {**data, "percent": "7.5"})

    (rate,) = TaxRate.objects.all()
    assert (rate.country, rate.percent, rate.valid_from) == ("DE", Decimal("7.5"), date(2026, 1, 1))
    assert "Saved: DE VAT 19.000 % from 2026-01-01." in page and "Germany (DE)" in page
    entries = AuditEntry.objects.filter(action="tax_rate.saved").order_by("id")
    assert [e.after["percent"] for e in entries] == ["19.000", "7.500"]
    assert entries[1].before["percent"] == "19.000"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"percent": "abc"}, "Enter a number."),
        ({"percent": "150"}, "less than or equal to 99.999"),
        ({"percent": "-1"}, "greater than or equal to 0"),
        ({"percent": "7.12345"}, "no more than 3 decimal places"),
        ({"country": "ZZ"}, "Select a valid choice."),
        ({"valid_from": "yesterday"}, "Enter a valid date."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_a_bad_tax_rate_is_refused_with_a_message(client, staff, changes, message):
    client.force_login(staff)
    data = {"country": "DE", "name": "VAT", "percent": "19", "valid_from": "2026-01-01"}

    response = client.post(reverse("billing:staff_tax_rates"), {**data, **changes})

    assert response.status_code == 200 and message in response.content.decode()
    assert not TaxRate.objects.exists()


def test_customers_cannot_reach_the_tax_rates_page(client, member_factory, user_factory):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    assert client.get(reverse("billing:staff_tax_rates")).status_code == 403
    data = {"country": "DE", "name": "VAT", "percent": "0", "valid_from": "2026-01-01"}
    assert client.post(reverse("billing:staff_tax_rates"), data).status_code == 403

    client.force_login(user_factory("nomfa@example.com", is_staff=True))
    response = client.get(reverse("billing:staff_tax_rates"))
    assert response["Location"] == reverse("mfa_activate_totp")
    assert not TaxRate.objects.exists()


def test_the_tax_rate_action_refuses_customers_and_staff_without_a_second_factor(
    member_factory, user_factory
):
    from billing.tax.services import tax_rate_save
    from portal.actions import Principal, Refused

    people = [member_factory(role="owner").user, user_factory("n@example.com", is_staff=True)]
    for person in people:
        with pytest.raises(Refused):
            tax_rate_save(by=Principal.for_user(person), country="DE", name="VAT", percent="19",
                          valid_from=date(2026, 1, 1))  # fmt: skip
    assert not TaxRate.objects.exists()
