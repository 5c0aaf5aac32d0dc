"""The orphan sweep against lucidsim, and staff resolving what it finds through the console."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from provisioning import tasks
from provisioning.models import Filespace, OrphanFilespace
from provisioning.services import orphans
from tests.provisioning.test_against_lucidsim import deliver, order, sim  # noqa: F401

pytestmark = pytest.mark.django_db

State = Filespace.State
Reason = OrphanFilespace.Reason


def make_behind_the_portals_back(sim, name: str, region: str = "us-east") -> dict:  # noqa: F811
    domain_id = sim.api("GET", "/domains").json()[0]["id"]
    body = {"domain": domain_id, "name": name, "storage": {"provider": "IBM", "region": region}}
    response = sim.api("POST", "/filespaces", body)
    assert response.status_code == 201, response.text
    return response.json()


def live_names(sim) -> set[str]:  # noqa: F811
    return {fs["name"] for fs in sim.api("GET", "/filespaces").json()}


def test_a_filespace_made_behind_the_portals_back_is_flagged_and_staff_delete_it(
    sim,  # noqa: F811
    staff_client,
    reauthenticated,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.delete_orphan, "delay", sent.append)
    remote = make_behind_the_portals_back(sim, "rogue")
    sim.set_status(remote["id"], "provisioned")
    sim.set_stats(remote["id"], usedStorage=5 * 10**9)

    assert tasks.sweep_orphans()["new"] == 1

    flag = OrphanFilespace.objects.get()
    assert (flag.remote_id, flag.reason, flag.state) == (remote["id"], Reason.UNTRACKED, "open")
    assert flag.used_storage >= 5 * 10**9  # the model keeps growing it
    assert flag.cost_so_far is not None and flag.cost_currency  # its line in LucidLink's period
    page = staff_client.get(reverse("staff:orphans"))
    assert page.status_code == 200
    assert "rogue" in page.content.decode()

    # Deleting at LucidLink cannot be undone: the console first asks for the password again.
    asked = staff_client.post(reverse("staff:orphan_delete", args=[flag.pk]), {"confirm": "rogue"})
    assert "/accounts/reauthenticate/" in asked["Location"]
    assert OrphanFilespace.objects.get().state == "open"
    reauthenticated(staff_client)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("staff:orphan_delete", args=[flag.pk]), {"confirm": "rogue"})
    assert sent == [flag.pk]  # enqueued after commit; the worker's part runs here
    assert OrphanFilespace.objects.get().state == OrphanFilespace.State.DELETING
    tasks.delete_orphan(flag.pk)

    flag.refresh_from_db()
    assert flag.state == OrphanFilespace.State.DELETED
    assert "rogue" not in live_names(sim)
    assert AuditEntry.objects.filter(action="orphan.delete_requested").count() == 1


def test_a_filespace_whose_row_failed_is_flagged_and_adopted_onto_that_order(
    sim,  # noqa: F811
    order,  # noqa: F811
    staff_client,
):
    # A create that reached LucidLink, whose row was nevertheless failed (e.g. by staff).
    filespace = order()
    remote = make_behind_the_portals_back(sim, filespace.remote_name)
    Filespace.objects.filter(pk=filespace.pk).update(
        state=State.ERROR, last_error="Failed by staff."
    )
    Order.objects.filter(pk=filespace.order_id).update(state=Order.State.FAILED)

    tasks.sweep_orphans()
    flag = OrphanFilespace.objects.get()
    assert (flag.reason, flag.tracked_as_id) == (Reason.TRACKED_FAILED, filespace.pk)

    response = staff_client.post(
        reverse("staff:orphan_adopt", args=[flag.pk]), {"filespace": filespace.pk}
    )

    assert response.status_code == 302
    filespace.refresh_from_db()
    assert (filespace.state, filespace.remote_id) == (State.PROVISIONING, remote["id"])
    assert Order.objects.get(pk=filespace.order_id).state == Order.State.PROVISIONING
    assert OrphanFilespace.objects.get().state == OrphanFilespace.State.ADOPTED
    assert AuditEntry.objects.filter(action="orphan.adopt").count() == 1
    Filespace.objects.filter(pk=filespace.pk).update(next_poll_at=timezone.now())
    tasks.poll_filespaces()
    assert Filespace.objects.get(pk=filespace.pk).state == State.PROVISIONED
    assert tasks.sweep_orphans()["orphans"] == 0


def test_tracked_and_in_flight_filespaces_are_not_orphans(sim, order):  # noqa: F811
    tracked = order("tracked")
    deliver(tracked)
    in_flight = order("inflight")  # its create is running: the POST went out, no answer yet
    make_behind_the_portals_back(sim, in_flight.remote_name)

    result = tasks.sweep_orphans()

    assert result["listed"] == 2
    assert result["orphans"] == 0
    assert not OrphanFilespace.objects.exists()


def test_a_flag_whose_filespace_went_away_is_closed_as_gone(sim):  # noqa: F811
    remote = make_behind_the_portals_back(sim, "brief")
    tasks.sweep_orphans()
    sim.set_status(remote["id"], "provisioned")
    sim.api("DELETE", f"/filespaces/{remote['id']}")

    tasks.sweep_orphans()

    assert OrphanFilespace.objects.get().state == OrphanFilespace.State.GONE


def test_a_second_sweep_refreshes_the_open_flag_instead_of_adding_one(sim):  # noqa: F811
    make_behind_the_portals_back(sim, "twice")

    tasks.sweep_orphans()
    second = tasks.sweep_orphans()

    assert second["new"] == 0
    assert OrphanFilespace.objects.count() == 1


def test_only_staff_can_resolve_an_orphan(sim, user_factory):  # noqa: F811
    make_behind_the_portals_back(sim, "rogue")
    tasks.sweep_orphans()
    flag = OrphanFilespace.objects.get()

    with pytest.raises(ValidationError, match="Only"):
        orphans.orphan_delete(orphan=flag, acting_user=user_factory(), confirm="rogue")
    assert OrphanFilespace.objects.get().state == "open"


def test_the_billing_overview_shows_orphans_as_their_own_line(staff_client, db):
    OrphanFilespace.objects.create(
        remote_id="fs-x",
        remote_name="rogue",
        provider="IBM",
        reason=Reason.UNTRACKED,
        cost_so_far=Decimal("12.34"),
        cost_currency="USD",
    )

    page = staff_client.get(reverse("billing:staff_overview")).content.decode()

    assert "Orphans, billed to nobody" in page
    assert "12.34" in page
