from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.customers import services
from portal.customers.models import Customer, Invitation, Membership, Role

pytestmark = pytest.mark.django_db


def test_onboarding_creates_the_customer_with_the_person_as_owner(client, user_factory):
    user = user_factory("founder@example.com")
    client.force_login(user)
    response = client.post(
        reverse("customers:onboarding"),
        {"name": "Acme Media Ltd", "billing_email": "accounts@acme.test", "country": "GB"},
    )
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.name, customer.country, customer.name_prefix) == (
        "Acme Media Ltd",
        "GB",
        "acmemedialtd",
    )
    assert Membership.objects.get(customer=customer).role == Role.OWNER
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"name": "   ", "billing_email": "a@b.test", "country": "GB"}, b"This field is required"),
        ({"name": "Acme", "billing_email": "not-an-email", "country": "GB"}, b"valid email"),
        ({"name": "Acme", "billing_email": "a@b.test", "country": "G1"}, b"Choose a country"),
        ({"name": "Acme", "billing_email": "a@b.test", "country": "XX"}, b"Choose a country"),
        ({"name": "A" * 201, "billing_email": "a@b.test", "country": "GB"}, b"at most 200"),
    ],
)
def test_bad_onboarding_input_shows_an_error_and_saves_nothing(
    client, user_factory, data, field_error
):
    client.force_login(user_factory())
    response = client.post(reverse("customers:onboarding"), data)
    assert response.status_code == 200
    assert field_error in response.content
    assert not Customer.objects.exists()


def test_the_country_is_chosen_from_iso_3166_by_name(client, user_factory):
    client.force_login(user_factory())
    html = client.get(reverse("customers:onboarding")).content.decode()
    assert '<select name="country"' in html
    assert '<option value="GB">United Kingdom</option>' in html
    assert '<option value="XX"' not in html


@pytest.mark.parametrize("country", ["XX", "G1", "", "GBR"])
def test_the_service_refuses_a_country_that_is_not_iso_3166(user_factory, country):
    with pytest.raises(ValidationError) as refused:
        services.customer_create(
            user=user_factory(), name="Acme", billing_email="a@a.test", country=country
        )
    assert "country" in refused.value.message_dict
    assert not Customer.objects.exists()


def test_a_customer_row_with_an_unknown_country_fails_validation(customer_factory):
    customer = customer_factory(country="XX")
    with pytest.raises(ValidationError) as refused:
        customer.full_clean()
    assert "country" in refused.value.message_dict


def test_name_prefixes_are_derived_and_unique(user_factory):
    first = services.customer_create(
        user=user_factory(), name="Acme", billing_email="a@a.test", country="GB"
    )
    second = services.customer_create(
        user=user_factory(), name="ACME!", billing_email="a@a.test", country="GB"
    )
    third = services.customer_create(
        user=user_factory(), name="Ünïcödé ☃", billing_email="a@a.test", country="DE"
    )
    assert (first.name_prefix, second.name_prefix) == ("acme", "acme2")
    assert third.name_prefix == "unicode"


def test_a_person_without_a_customer_is_sent_to_onboarding(client, user_factory):
    client.force_login(user_factory())
    assert client.get(reverse("dashboard"))["Location"] == reverse("customers:onboarding")


def test_an_invited_existing_user_accepts_and_joins_with_the_role(
    client, member_factory, user_factory, django_capture_on_commit_callbacks
):
    owner = member_factory(role="owner")
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(
            reverse("customers:invite"), {"email": "Teammate@Example.com", "role": "billing"}
        )
    assert len(callbacks) == 1  # The email goes out only once the invitation is committed.
    assert len(mail.outbox) == 1
    path = mail.outbox[0].body.split("http://127.0.0.1:8000", 1)[1].split()[0]
    teammate = user_factory("teammate@example.com")
    client.force_login(teammate)
    assert client.post(path).status_code == 302
    membership = Membership.objects.get(user=teammate)
    assert (membership.customer, membership.role) == (owner.customer, Role.BILLING)
    assert Invitation.objects.get().accepted_by == teammate


def test_a_new_user_signs_up_from_the_invitation_without_a_second_email_check(
    client, member_factory
):
    owner = member_factory()
    _invitation, token = services.invitation_create(
        customer=owner.customer, email="fresh@example.com", role="member", invited_by=owner.user
    )
    path = reverse("customers:invitation_accept", args=[token])
    assert b"Create an account" in client.get(path).content
    mail.outbox.clear()
    password = "a-long-enough-passphrase-42"
    response = client.post(
        reverse("account_signup") + f"?next={path}",
        {"email": "fresh@example.com", "password1": password, "password2": password},
    )
    assert response.status_code == 302
    assert mail.outbox == []  # The invitation link already proved the address.
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(
        customer=owner.customer, user__email="fresh@example.com"
    ).exists()


def test_an_expired_invitation_cannot_be_accepted(member_factory, user_factory):
    owner = member_factory()
    invitation, token = services.invitation_create(
        customer=owner.customer, email="late@example.com", role="member", invited_by=owner.user
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ValidationError, match="expired"):
        services.invitation_accept(token=token, user=user_factory("late@example.com"))
    assert Membership.objects.filter(customer=owner.customer).count() == 1


def test_invitations_expire_after_seven_days(member_factory):
    owner = member_factory()
    invitation, _token = services.invitation_create(
        customer=owner.customer, email="x@example.com", role="member", invited_by=owner.user
    )
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)


def test_an_invitation_for_another_address_is_refused(client, member_factory, user_factory):
    owner = member_factory()
    _invitation, token = services.invitation_create(
        customer=owner.customer, email="right@example.com", role="admin", invited_by=owner.user
    )
    client.force_login(user_factory("wrong@example.com"))
    response = client.post(reverse("customers:invitation_accept", args=[token]), follow=True)
    assert b"This invitation is for right@example.com" in response.content
    assert not Membership.objects.filter(user__email="wrong@example.com").exists()


def test_a_resend_replaces_the_old_link(member_factory, user_factory):
    owner = member_factory()
    _first, old = services.invitation_create(
        customer=owner.customer, email="twice@example.com", role="member", invited_by=owner.user
    )
    _second, new = services.invitation_create(
        customer=owner.customer, email="twice@example.com", role="member", invited_by=owner.user
    )
    user = user_factory("twice@example.com")
    with pytest.raises(ValidationError, match="withdrawn"):
        services.invitation_accept(token=old, user=user)
    assert services.invitation_accept(token=new, user=user).role == Role.MEMBER


def test_a_bogus_invitation_link_says_it_is_not_valid(client):
    response = client.get(reverse("customers:invitation_accept", args=["x" * 500]))
    assert response.status_code == 200
    assert b"not valid" in response.content


def test_only_the_hash_of_the_token_is_stored(member_factory):
    owner = member_factory()
    invitation, token = services.invitation_create(
        customer=owner.customer, email="h@example.com", role="member", invited_by=owner.user
    )
    assert token not in invitation.token_hash
    assert invitation.token_hash == services.hash_token(token)


def test_a_person_in_two_customers_switches_between_them(client, member_factory, customer_factory):
    first = member_factory(customer=customer_factory(name="Alpha"))
    member_factory(user=first.user, customer=customer_factory(name="Beta"), role="member")
    client.force_login(first.user)
    assert b"Alpha" in client.get(reverse("dashboard")).content
    beta = Customer.objects.get(name="Beta")
    client.post(reverse("customers:switch"), {"customer": beta.pk})
    page = client.get(reverse("dashboard")).content
    assert b"<h1>Beta</h1>" in page


def test_switching_to_a_customer_one_is_not_a_member_of_changes_nothing(
    client, member_factory, customer_factory
):
    mine = member_factory()
    other = customer_factory(name="Not mine")
    client.force_login(mine.user)
    response = client.post(reverse("customers:switch"), {"customer": other.pk}, follow=True)
    assert b"not a member" in response.content
    assert f"<h1>{mine.customer.name}</h1>".encode() in response.content


def test_the_last_owner_cannot_be_removed_or_demoted(member_factory):
    owner = member_factory(role="owner")
    with pytest.raises(ValidationError, match="at least one owner"):
        services.membership_remove(membership=owner, acting=owner)
    with pytest.raises(ValidationError, match="at least one owner"):
        services.membership_change_role(membership=owner, role="member", acting=owner)


def test_an_admin_cannot_invite_an_owner(member_factory):
    admin = member_factory(role="admin")
    with pytest.raises(ValidationError, match="Only an owner"):
        services.invitation_create(
            customer=admin.customer, email="boss@example.com", role="owner", invited_by=admin.user
        )


def test_invitations_are_capped_per_hour(member_factory):
    owner = member_factory()
    for index in range(services.INVITATIONS_PER_HOUR):
        services.invitation_create(
            customer=owner.customer,
            email=f"p{index}@example.com",
            role="member",
            invited_by=owner.user,
        )
    with pytest.raises(ValidationError, match="invitations an hour") as refused:
        services.invitation_create(
            customer=owner.customer,
            email="one-more@example.com",
            role="member",
            invited_by=owner.user,
        )
    assert list(refused.value.message_dict) == ["email"]  # shown at the form's email field
    assert not Invitation.objects.filter(email="one-more@example.com").exists()


def test_a_member_removed_from_the_organisation_they_switched_to_falls_back_to_their_own(
    client, member_factory, customer_factory
):
    alpha = member_factory(customer=customer_factory(name="Alpha"))
    beta_owner = member_factory(customer=customer_factory(name="Beta"))
    in_beta = member_factory(user=alpha.user, customer=beta_owner.customer, role="member")
    client.force_login(alpha.user)
    client.post(reverse("customers:switch"), {"customer": beta_owner.customer_id})
    assert b"<h1>Beta</h1>" in client.get(reverse("dashboard")).content

    services.membership_remove(membership=in_beta, acting=beta_owner)

    page = client.get(reverse("dashboard")).content
    assert b"<h1>Alpha</h1>" in page
    assert b"Beta" not in page
    team = client.get(reverse("customers:team")).content.decode()
    assert beta_owner.user.email not in team


def test_the_session_customer_counts_only_through_the_users_own_membership(
    rf, member_factory, customer_factory
):
    """Another user's membership of the session's customer must not become this user's."""
    from django.contrib.sessions.backends.db import SessionStore

    from portal.customers import selectors

    mine = member_factory(customer=customer_factory(name="Mine"))
    theirs = member_factory(customer=customer_factory(name="Theirs"))
    request = rf.get("/")
    request.user = mine.user
    request.session = SessionStore()
    request.session[selectors.SESSION_KEY] = theirs.customer_id

    assert selectors.current_membership(request) == mine


@pytest.fixture
def two_teams(member_factory, customer_factory, user_factory):
    """Alpha (an owner, a member, invitations open, accepted and withdrawn) and Beta (a member)."""
    owner = member_factory(customer=customer_factory(name="Alpha"))
    member = member_factory(customer=owner.customer, role="member")
    beta = member_factory(customer=customer_factory(name="Beta"), role="member")
    invite = {"role": "member", "invited_by": owner.user}
    open_, _ = services.invitation_create(customer=owner.customer, email="open@x.example", **invite)
    taken, _ = services.invitation_create(customer=owner.customer, email="took@x.example", **invite)
    gone, _ = services.invitation_create(customer=owner.customer, email="gone@x.example", **invite)
    # Only owners and admins invite (invitation.create refuses members).
    beta_admin = member_factory(customer=beta.customer, role="admin")
    theirs, _ = services.invitation_create(
        customer=beta.customer, email="theirs@x.example", role="member", invited_by=beta_admin.user
    )
    Invitation.objects.filter(pk=taken.pk).update(accepted_at=timezone.now())
    Invitation.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    return owner, member, beta, open_, theirs


def test_the_team_page_lists_this_organisations_members_and_open_invitations_only(
    client, two_teams
):
    owner, member, beta, _open, _theirs = two_teams
    client.force_login(owner.user)

    page = client.get(reverse("customers:team")).content.decode()

    assert owner.user.email in page and member.user.email in page
    assert beta.user.email not in page
    assert "open@x.example" in page
    assert "took@x.example" not in page and "gone@x.example" not in page
    assert "theirs@x.example" not in page


def test_a_manager_removes_members_and_withdraws_invitations_of_their_own_organisation_only(
    client, two_teams
):
    owner, member, beta, open_, theirs = two_teams
    client.force_login(owner.user)

    for name, pk in (("member_remove", beta.pk), ("invitation_revoke", theirs.pk)):
        assert client.post(reverse(f"customers:{name}", args=[pk])).status_code == 404
    client.post(reverse("customers:member_remove", args=[member.pk]))
    client.post(reverse("customers:invitation_revoke", args=[open_.pk]))

    assert not Membership.objects.filter(pk=member.pk).exists()
    assert Membership.objects.filter(pk=beta.pk).exists()
    assert Invitation.objects.get(pk=open_.pk).revoked_at is not None
    assert Invitation.objects.get(pk=theirs.pk).revoked_at is None


def test_the_team_page_costs_the_same_queries_for_one_member_or_many(client, member_factory):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = member_factory()
    client.force_login(owner.user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("customers:team")).status_code == 200
        return len(captured.captured_queries)

    alone = queries()
    for _ in range(3):
        member_factory(customer=owner.customer, role="member")
        services.invitation_create(
            customer=owner.customer,
            email=f"i{Invitation.objects.count()}@x.example",
            role="member",
            invited_by=owner.user,
        )
    assert queries() == alone
