"""Every member links as their own filespace user; who holds root; self-initialization."""

import re

import pytest
from django.urls import reverse

from portal.audit.models import AuditEntry
from provisioning import cli
from provisioning.managed import services as managed
from provisioning.managed.models import FilespaceInit, FilespaceUser
from provisioning.models import Filespace
from tests.managed.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.django_db


def shown(page: str) -> str:
    return re.search(r'<code id="one-time-password">([^<]+)</code>', page).group(1)


def links_as(filespace, user: str, password: str, state_dir) -> str:
    """Link a separate client as `user` with `password`; the user LucidLink reports."""
    client = cli.LucidCli(qualified_name=filespace.qualified_name, state_dir=state_dir)
    call = cli.Call(["lucid", "link", "--fs", filespace.qualified_name, "--user", user])
    client.run(client._with_password(call, password))
    return client.status().user


def test_a_plain_member_creates_their_own_user_sees_its_password_once_and_links_with_it(
    sim, active, member_factory, client, tmp_path
):
    filespace = active()
    member = member_factory(role="member", customer=filespace.customer)
    client.force_login(member.user)

    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "Step 2 of 6: Your filespace user" in page
    posted = client.post(
        reverse("filespaces:own_user_create", args=[filespace.pk]), {"name": "pat"}
    )
    assert posted.status_code == 302
    reveal = client.get(posted["Location"])
    assert reveal["Cache-Control"] == "no-store"
    password = shown(reveal.content.decode())

    assert links_as(filespace, "pat", password, tmp_path / "pat") == "pat"
    user = FilespaceUser.objects.get(filespace=filespace)
    assert user.member == member.user
    again = client.get(posted["Location"]).content.decode()
    assert password not in again and "Already shown" in again
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "Step 3 of 6: Install the LucidLink client" in page
    assert password not in page and ROOT_PASSWORD not in page


def test_a_member_gets_one_own_user_per_filespace(sim, active, member_factory):
    filespace = active()
    member = member_factory(role="member", customer=filespace.customer)
    managed.filespace_own_user_create(filespace=filespace, actor=member.user, name="pat")

    with pytest.raises(managed.OperationRefused, match="already have a filespace user"):
        managed.filespace_own_user_create(filespace=filespace, actor=member.user, name="pat2")
    assert FilespaceUser.objects.count() == 1


def test_someone_from_another_organisation_cannot_create_a_user_through_the_action(
    sim, active, member_factory
):
    filespace = active()
    outsider = member_factory(role="owner")

    with pytest.raises(managed.OperationRefused, match="Only members"):
        managed.filespace_own_user_create(filespace=filespace, actor=outsider.user, name="x")
    assert not FilespaceUser.objects.exists()


def test_a_reset_password_works_at_lucidlink_and_the_old_one_no_longer_does(
    sim, active, member_factory, client, tmp_path
):
    filespace = active()
    member = member_factory(role="member", customer=filespace.customer)
    user, old = managed.filespace_own_user_create(
        filespace=filespace, actor=member.user, name="pat"
    )
    client.force_login(member.user)

    posted = client.post(reverse("filespaces:user_reset_password", args=[user.pk]))
    new = shown(client.get(posted["Location"]).content.decode())

    assert new != old
    assert links_as(filespace, "pat", new, tmp_path / "new") == "pat"
    with pytest.raises(cli.WrongPassword):
        links_as(filespace, "pat", old, tmp_path / "old")
    entry = AuditEntry.objects.get(action="filespace.user_password_reset")
    assert new not in str(entry.after) + entry.note


def test_a_plain_member_cannot_reset_someone_elses_password(sim, active, member_factory):
    filespace = active()
    owner = member_factory(role="owner", customer=filespace.customer)
    member = member_factory(role="member", customer=filespace.customer)
    user, _ = managed.filespace_own_user_create(filespace=filespace, actor=owner.user, name="own")

    with pytest.raises(managed.OperationRefused, match="Only owners and admins"):
        managed.filespace_user_reset_password(filespace_user=user, actor=member.user)
    assert sim.count("cli.user") == 1  # only the create


def test_an_owner_initializes_their_own_bucket_with_the_root_password_shown_once(
    sim, provisioned, member_factory, client, tmp_path
):
    filespace = provisioned()
    Filespace.objects.filter(pk=filespace.pk).update(storage_owner="customer")
    owner = member_factory(role="owner", customer=filespace.customer)
    client.force_login(owner.user)

    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "I will initialize it myself" in page
    posted = client.post(reverse("filespaces:self_initialize", args=[filespace.pk]))
    root = shown(client.get(posted["Location"]).content.decode())
    filespace.refresh_from_db()
    assert filespace.root_password == root  # the portal keeps its encrypted copy
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "lucid init-s3" in page and root not in page
    assert 'hx-trigger="every 3s"' in page  # waits for LucidLink to report it initialized
    refused = client.post(reverse("filespaces:self_initialize", args=[filespace.pk]))
    assert root not in client.get(refused["Location"]).content.decode()

    # The owner runs init-s3 with the root password on their computer, then asks the page.
    cli.LucidCli(qualified_name=filespace.qualified_name, state_dir=tmp_path / "own").init_s3(
        root_password=root, endpoint="s3.example.net", https=True, access_key="AK",
        secret_key="SK", region=filespace.region, provider=filespace.provider,
    )  # fmt: skip
    client.post(reverse("filespaces:check_status", args=[filespace.pk]))

    filespace.refresh_from_db()
    assert filespace.state == Filespace.State.ACTIVE
    assert FilespaceInit.objects.get(filespace=filespace).state == "by_customer"
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "Step 2 of 6: Your filespace user" in page


def test_lucidlink_owned_storage_cannot_be_initialized_by_the_customer(
    sim, provisioned, member_factory
):
    filespace = provisioned()
    owner = member_factory(role="owner", customer=filespace.customer)

    with pytest.raises(managed.OperationRefused, match="storage LucidLink owns"):
        managed.filespace_self_init_request(filespace=filespace, actor=owner.user)
    assert not FilespaceInit.objects.exists()
