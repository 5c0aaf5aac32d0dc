"""The invitation e-mail and link, the token lookup's limits, and unique name prefixes.

The first mutation run of portal/customers/services.py left these details unguarded
(docs/testing.md): the invitation's subject, recipient and link, the token length limit, the
prefix numbering past the first clash and the name's length.
"""

import pytest
from django.core import mail
from django.urls import reverse

from portal.customers import services
from portal.customers.models import Customer, Invitation

pytestmark = pytest.mark.django_db

NO_COUNTRY = {"country": ["Choose a country: an ISO 3166-1 two-letter code such as GB or US."]}


def test_the_link_joins_the_base_url_and_the_path_with_one_slash(settings):
    settings.PORTAL_BASE_URL = "https://portal.example/"
    path = reverse("customers:invitation_accept", kwargs={"token": "abc"})
    assert path.startswith("/")
    assert services.invitation_url("abc") == f"https://portal.example{path}"


def test_the_invitation_mail_goes_to_the_invitee_with_the_msp_the_organisation_and_the_link(
    settings, member_factory, django_capture_on_commit_callbacks
):
    settings.MSP_NAME = "Northwind"
    settings.PORTAL_BASE_URL = "https://portal.example"
    owner = member_factory(role="owner")
    owner.customer.name = "Acme Ltd"
    owner.customer.save()
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            customer=owner.customer, email=" New@Example.com ", role="member",
            invited_by=owner.user,
        )  # fmt: skip
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["new@example.com"]
    assert sent.subject == "[Northwind] You are invited to join Acme Ltd"
    assert services.invitation_url(token) in sent.body
    assert f"{owner.user.email} invited you to join Acme Ltd on Northwind as member." in sent.body
    assert invitation.email == "new@example.com"


@pytest.mark.parametrize(("length", "found"), [(100, True), (101, False)])
def test_a_token_is_looked_up_only_up_to_a_hundred_characters(
    length, found, member_factory, django_assert_max_num_queries
):
    owner = member_factory(role="owner")
    token = "t" * length
    invitation = Invitation.objects.create(
        customer=owner.customer, email="x@example.com", role="member",
        token_hash=services.hash_token(token), invited_by=owner.user,
        expires_at="2099-01-01T00:00:00Z",
    )  # fmt: skip
    with django_assert_max_num_queries(1):  # the accept page reads the customer too
        looked_up = services.invitation_find(token=token)
        assert (looked_up == invitation) is found
        assert looked_up is None or looked_up.customer.name == owner.customer.name
    assert services.invitation_find(token="") is None


def test_prefixes_count_up_past_the_first_clash_and_keep_to_twenty_characters():
    Customer.objects.create(name="a", name_prefix="acme", billing_email="a@a.test", country="GB")
    Customer.objects.create(name="b", name_prefix="acme2", billing_email="a@a.test", country="GB")
    assert services._unique_prefix("Acme") == "acme3"
    long_name = "Abcdefghijklmnopqrstuvwxyz"  # the candidate keeps 12 characters
    assert services._unique_prefix(long_name) == "abcdefghijkl"
    base = "abcdefghijkl"
    taken = [base] + [f"{base}{n}" for n in range(2, 12)]
    for prefix in taken:
        Customer.objects.create(
            name=prefix, name_prefix=prefix, billing_email="a@a.test", country="GB"
        )
    assert services._unique_prefix(long_name) == "abcdefghijkl12"


def test_an_organisation_name_is_one_line_and_the_country_is_read_as_a_code(user_factory):
    customer = services.customer_insert(
        name="  Acme\r\nLtd  ", billing_email="a@a.test", country=" gb ", created_by=user_factory()
    )
    assert customer.country == "GB"
    assert customer.name == "Acme Ltd"
    assert customer.name_prefix == "acmeltd"


def test_a_new_organisation_keeps_its_billing_email_and_its_creator(user_factory):
    creator = user_factory()
    customer = services.customer_insert(
        name="Acme", billing_email="accounts@acme.test", country="GB", created_by=creator
    )
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.billing_email, stored.created_by) == ("accounts@acme.test", creator)


@pytest.mark.parametrize(
    ("name", "country", "errors"),
    [
        (" \r\n ", "GB", {"name": ["Enter the company's name."]}),
        ("Acme", "UK", NO_COUNTRY),
        ("Acme", None, NO_COUNTRY),
    ],
)  # fmt: skip
def test_an_organisation_without_a_name_or_a_real_country_is_refused(
    name, country, errors, user_factory
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.customer_insert(
            name=name, billing_email="a@a.test", country=country, created_by=user_factory()
        )
    assert refused.value.message_dict == errors
    assert not Customer.objects.exists()


def test_a_prefix_taken_between_the_check_and_the_insert_is_tried_five_times(
    user_factory, monkeypatch
):
    from django.core.exceptions import ValidationError

    Customer.objects.create(name="a", name_prefix="taken", billing_email="a@a.test", country="GB")
    answers = iter(["taken", "taken", "free"])
    monkeypatch.setattr(services, "_unique_prefix", lambda name: next(answers))
    customer = services.customer_insert(
        name="Acme", billing_email="a@a.test", country="GB", created_by=user_factory()
    )
    assert customer.name_prefix == "free"

    calls = []
    monkeypatch.setattr(services, "_unique_prefix", lambda name: calls.append(name) or "taken")
    with pytest.raises(ValidationError) as refused:
        services.customer_insert(
            name="Acme", billing_email="a@a.test", country="GB", created_by=user_factory()
        )
    assert refused.value.message_dict == {
        "name": ["Could not reserve a name prefix; please try again."]
    }
    assert len(calls) == 5


def test_an_invitation_whose_inviter_is_gone_names_no_one(settings, member_factory):
    settings.MSP_NAME = "Northwind"
    owner = member_factory(role="owner")
    invitation = Invitation.objects.create(
        customer=owner.customer, email="x@example.com", role="member",
        token_hash=services.hash_token("t"), invited_by=None, expires_at="2099-01-01T00:00:00Z",
    )  # fmt: skip
    invitation.refresh_from_db()
    services._send_invitation(invitation=invitation, token="t")
    body = mail.outbox[0].body
    assert f"You are invited to join {owner.customer.name} on Northwind as member." in body


def test_an_invitation_from_msp_staff_names_the_msp_never_the_staff_address(
    settings, member_factory, user_factory, django_capture_on_commit_callbacks
):
    from portal.audit.display import msp_staff_label

    settings.MSP_NAME = "Northwind"
    customer = member_factory(role="owner").customer
    staff = user_factory("ops@msp.example", is_staff=True, mfa=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            customer=customer, email="new@example.com", role="member", invited_by=staff
        )
    body = mail.outbox[0].body
    assert "ops@msp.example" not in body
    assert f"{msp_staff_label()} invited you to join" in body


def test_a_person_creates_up_to_the_cap_of_organisations_counting_only_their_own(
    settings, user_factory
):
    from django.core.exceptions import ValidationError

    settings.ORGANISATIONS_PER_USER = 2
    person, someone_else = user_factory(), user_factory()
    for n in range(3):  # another person's organisations and MSP-made ones do not count
        services.customer_insert(
            name=f"Other {n}", billing_email="a@a.test", country="GB", created_by=someone_else
        )
        services.customer_insert(
            name=f"MSP {n}", billing_email="a@a.test", country="GB", created_by=None
        )
    for n in range(2):
        services.customer_create(
            user=person, name=f"Mine {n}", billing_email="a@a.test", country="GB"
        )
    with pytest.raises(ValidationError) as refused:
        services.customer_create(
            user=person, name="One more", billing_email="a@a.test", country="GB"
        )
    assert refused.value.message_dict == {
        "name": ["You can create at most 2 organisations; contact support for more."]
    }
