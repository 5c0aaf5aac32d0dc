"""Staff sessions end when idle, and destructive staff actions ask for the password again."""

import pytest
import time_machine
from django.urls import reverse

from portal.customers.models import CustomerTermination
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # the user_factory's


def test_an_idle_staff_session_is_signed_out(client, staff_factory, settings):
    settings.STAFF_SESSION_IDLE_MINUTES = 30
    client.force_login(staff_factory())
    with time_machine.travel("2026-06-10 12:00Z", tick=False):
        assert client.get(reverse("staff:dashboard")).status_code == 200
    with time_machine.travel("2026-06-10 12:29Z", tick=False):
        assert client.get(reverse("staff:dashboard")).status_code == 200
    with time_machine.travel("2026-06-10 13:00Z", tick=False):
        response = client.get(reverse("staff:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_a_customer_session_has_no_staff_idle_timeout(client, member_factory):
    client.force_login(member_factory().user)
    with time_machine.travel("2026-06-10 12:00Z", tick=False):
        assert client.get(reverse("dashboard")).status_code == 200
    with time_machine.travel("2026-06-10 15:00Z", tick=False):
        assert client.get(reverse("dashboard")).status_code == 200


def test_force_failing_a_filespace_asks_for_the_password_then_carries_on(
    client, staff_factory, filespace_factory
):
    filespace = filespace_factory(state="provisioning")
    client.force_login(staff_factory())
    url = reverse("staff:filespace_fail", args=[filespace.pk])
    response = client.post(url, {"reason": "Stuck at the vendor"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert Filespace.objects.get(pk=filespace.pk).state == "provisioning"
    # The person proves it is them; the suspended POST is then carried out.
    client.post(response["Location"], {"password": PASSWORD})
    assert Filespace.objects.get(pk=filespace.pk).state == "error"


@pytest.mark.parametrize("name", ["staff:filespace_delete", "staff:termination_approve"])
def test_other_destructive_staff_actions_need_a_recent_reauthentication(
    client, staff_factory, filespace_factory, name
):
    staff = staff_factory()
    filespace = filespace_factory(state="active", remote_id="fs-9")
    termination = CustomerTermination.objects.create(
        customer=filespace.customer, reason="r", previous_status="active", requested_by=staff
    )
    pk = filespace.pk if "filespace" in name else termination.pk
    client.force_login(staff_factory())
    response = client.post(reverse(name, args=[pk]), {"reason": "x", "confirm": "x"})
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert Filespace.objects.get(pk=filespace.pk).state == "active"
    assert CustomerTermination.objects.get(pk=termination.pk).state == "awaiting_approval"


def test_a_credit_note_needs_a_recent_reauthentication_but_finalizing_does_not(
    client, staff_factory, customer_factory
):
    from tests.api.helpers import make_invoice

    invoice = make_invoice(customer_factory())
    client.force_login(staff_factory())
    credit = client.post(
        reverse("billing:staff_invoice_action", args=[invoice.pk, "credit"]),
        {"amount": "1.00", "reason": "Outage"},
    )
    assert credit["Location"].startswith(reverse("account_reauthenticate"))
    finalize = client.post(reverse("billing:staff_invoice_action", args=[invoice.pk, "finalize"]))
    assert not finalize["Location"].startswith(reverse("account_reauthenticate"))
