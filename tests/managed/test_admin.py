"""Staff see managed operation records in the admin, read-only."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP

from provisioning.managed.models import FilespaceInit, FilespaceUser, SnapshotSchedule

pytestmark = pytest.mark.django_db


def test_staff_see_the_records_and_cannot_add_change_or_delete_them(
    client, user_factory, filespace_factory
):
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client.force_login(staff)
    filespace = filespace_factory(state="active")
    FilespaceInit.objects.create(filespace=filespace, state="done")
    user = FilespaceUser.objects.create(filespace=filespace, name="ann.lee")
    SnapshotSchedule.objects.create(filespace=filespace, name="Nightly", interval="1d", retention=7)

    for model, shown in (
        ("filespaceinit", "done"),
        ("filespaceuser", "ann.lee"),
        ("snapshotschedule", "Nightly"),
    ):
        page = client.get(f"/admin/provisioning/{model}/")
        assert page.status_code == 200, model
        assert shown in page.content.decode()
        assert client.get(f"/admin/provisioning/{model}/add/").status_code == 403

    client.post(f"/admin/provisioning/filespaceuser/{user.pk}/delete/", {"post": "yes"})
    assert FilespaceUser.objects.filter(pk=user.pk).exists()
