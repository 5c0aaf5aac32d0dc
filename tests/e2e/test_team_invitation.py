"""Journey 2: the owner invites a teammate, who joins and sees the same filespaces."""

import re

from django.core import mail
from playwright.sync_api import expect

from portal.customers.models import Membership
from tests.e2e.conftest import PASSWORD, PASSWORD_LABEL, mail_link, sign_in

FACTORY_PASSWORD = "correct-horse-battery-9"


def test_an_invited_member_joins_sees_the_filespaces_and_cannot_order(
    portal, plan, customer_factory, member_factory, user_factory, filespace_factory, page,
    new_context, shots,
):  # fmt: skip
    customer = customer_factory(name="Fabrikam Films", name_prefix="fabrikam")
    owner = member_factory(
        role="owner", customer=customer, user=user_factory("olivia@fabrikam.example")
    )
    filespace_factory(customer=customer, plan=plan, name="projects", state="active",
                      remote_id="fs-projects")  # fmt: skip
    other = customer_factory(name="Contoso", name_prefix="contoso")
    filespace_factory(customer=other, plan=plan, name="secret", state="active", remote_id="fs-x")

    # The owner sees the organisation's filespace, then invites a teammate as a member.
    sign_in(page, portal, owner.user.email, FACTORY_PASSWORD)
    expect(page.get_by_role("heading", name="Fabrikam Films")).to_be_visible()
    owner_sees = page.get_by_role("region", name="Filespaces").get_by_role("link").all_inner_texts()
    assert owner_sees == ["fabrikam-projects"]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    page.get_by_label("Email address").fill("sam@fabrikam.example")
    page.get_by_label(re.compile(r"^Role:?$")).select_option(label="Member")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to sam@fabrikam.example")
    invitations = page.get_by_role("region", name="Invitations")
    expect(invitations.get_by_role("row").filter(has_text="sam@fabrikam.example")).to_contain_text(
        "Member"
    )
    shots(page, "team")
    assert [m.to for m in mail.outbox] == [["sam@fabrikam.example"]]
    link = mail_link(mail.outbox[0], "/organisation/invitations/")

    # The teammate opens the link in their own browser, creates an account and joins.
    teammate = new_context().new_page()
    teammate.goto(portal + link)
    expect(teammate.get_by_role("heading", name="Join Fabrikam Films")).to_be_visible()
    shots(teammate, "invitation")
    teammate.get_by_role("link", name="Create an account").click()
    teammate.get_by_label("Email").fill("sam@fabrikam.example")
    teammate.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    teammate.get_by_label("Password (again)").fill(PASSWORD)
    teammate.get_by_role("button", name="Sign Up").click()
    # The address came from the invitation, so no second verification email is needed.
    expect(teammate.get_by_role("heading", name="Join Fabrikam Films")).to_be_visible()
    assert len(mail.outbox) == 1
    teammate.get_by_role("button", name="Accept and join").click()

    # Same filespaces as the owner, and nothing of another customer's.
    expect(teammate.get_by_role("status")).to_contain_text("You joined Fabrikam Films.")
    filespaces = teammate.get_by_role("region", name="Filespaces")
    expect(filespaces.get_by_role("link")).to_have_text(owner_sees)
    expect(teammate.get_by_text("contoso-secret")).to_have_count(0)
    expect(teammate.get_by_role("link", name="Order a filespace")).to_have_count(0)
    shots(teammate, "member-dashboard")
    membership = Membership.objects.get(user__email="sam@fabrikam.example")
    assert (membership.customer, membership.role) == (customer, "member")

    # A member who tries to order anyway is turned back with the reason.
    teammate.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    teammate.get_by_role("link", name="Order Teams Standard").click()
    expect(teammate.get_by_role("status")).to_contain_text(
        "Only owners and admins of your organisation can order filespaces."
    )
    expect(teammate.get_by_label("Filespace name")).to_have_count(0)

    # The owner's team page now lists the teammate.
    page.reload()
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_role("row").filter(has_text="sam@fabrikam.example")).to_contain_text(
        "Member"
    )
