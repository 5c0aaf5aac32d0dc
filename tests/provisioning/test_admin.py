"""Staff see orders, filespaces and their timelines in the admin; secrets never appear."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP

from provisioning import services
from provisioning.models import ProvisioningEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, user_factory):
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client.force_login(staff)
    return client


def test_staff_see_filespaces_orders_and_timelines_without_secrets(staff_client, filespace_factory):
    filespace = filespace_factory(
        name="media", state="error", last_error="Region disabled.", root_password="root-pw-9876"
    )
    order = filespace.order
    order.access_key, order.secret_key = "AKIA-SECRET-1", "SECRET-KEY-2"
    order.save()
    event = services.event_record(filespace=filespace, kind=ProvisioningEvent.Kind.FAILED,
                                  message="Region disabled.")  # fmt: skip

    pages = [
        "/admin/provisioning/filespace/",
        f"/admin/provisioning/filespace/{filespace.pk}/change/",
        "/admin/orders/order/",
        f"/admin/orders/order/{order.pk}/change/",
        "/admin/provisioning/provisioningevent/",
        f"/admin/provisioning/provisioningevent/{event.pk}/change/",
    ]
    for url in pages:
        page = staff_client.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        for secret in ("root-pw-9876", "AKIA-SECRET-1", "SECRET-KEY-2"):
            assert secret not in body, url
    assert "cust1-media" in staff_client.get("/admin/provisioning/filespace/").content.decode()
    assert "Region disabled." in staff_client.get(pages[1]).content.decode()


def test_the_admin_cannot_add_change_or_delete_timeline_events(staff_client, filespace_factory):
    filespace = filespace_factory()
    event = services.event_record(filespace=filespace, kind=ProvisioningEvent.Kind.REQUESTED)

    assert staff_client.get("/admin/provisioning/provisioningevent/add/").status_code == 403
    staff_client.post(
        f"/admin/provisioning/provisioningevent/{event.pk}/change/", {"message": "rewritten"}
    )
    staff_client.post(f"/admin/provisioning/provisioningevent/{event.pk}/delete/", {"post": "yes"})

    assert ProvisioningEvent.objects.get(pk=event.pk).message == ""
