"""Owners and admins delete a filespace from its page; the script never links as root unasked."""

from unittest import mock

import pytest
from django.urls import reverse

from provisioning import tasks
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db


def _detail(client, filespace) -> str:
    return client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()


def test_the_filespace_page_links_to_a_delete_section_for_owners(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(customer=owner.customer, state="active", remote_id="fs-1")
    page = _detail(owner_client, filespace)
    assert '<a href="#delete">Delete this filespace</a>' in page
    assert 'id="delete"' in page
    assert reverse("filespaces:delete", args=[filespace.pk]) in page
    assert f"Type <strong>{filespace.remote_name}</strong> to confirm" in page


def test_members_see_no_delete_section(client, member_factory, filespace_factory):
    member = member_factory(role="member")
    filespace = filespace_factory(customer=member.customer, state="active", remote_id="fs-1")
    client.force_login(member.user)
    page = _detail(client, filespace)
    assert "Delete this filespace" not in page
    assert reverse("filespaces:delete", args=[filespace.pk]) not in page


def test_a_wrong_name_deletes_nothing_and_the_right_one_starts_the_deletion(
    owner_client, owner, filespace_factory, django_capture_on_commit_callbacks
):
    filespace = filespace_factory(customer=owner.customer, state="active", remote_id="fs-1")
    url = reverse("filespaces:delete", args=[filespace.pk])

    wrong = owner_client.post(url, {"confirm": "something-else"}, follow=True)
    assert f"Type {filespace.remote_name} to confirm" in wrong.content.decode()
    assert Filespace.objects.get(pk=filespace.pk).state == "active"

    with (
        mock.patch.object(tasks.delete_filespace, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        right = owner_client.post(url, {"confirm": filespace.remote_name}, follow=True)
    assert "is being deleted" in right.content.decode()
    assert Filespace.objects.get(pk=filespace.pk).state == "deleting"
    delay.assert_called_once_with(filespace.pk)


def test_no_script_links_as_root_when_the_portal_holds_root_and_the_person_has_no_user(
    owner_client, owner, filespace_factory
):
    from provisioning.managed.models import FilespaceUser

    filespace = filespace_factory(
        customer=owner.customer, state="active", remote_id="fs-1", root_password="held-1"
    )
    url = reverse("filespaces:script_sh", args=[filespace.pk])
    assert owner_client.get(url).status_code == 404

    FilespaceUser.objects.create(filespace=filespace, name="dana", member=owner.user)
    script = owner_client.get(url).content.decode()
    assert 'LUCID_USER="${LUCID_USER:-dana}"' in script
    assert "held-1" not in script
