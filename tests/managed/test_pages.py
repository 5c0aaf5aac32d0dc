"""The managed operations pages: owners and admins change, members look, nobody else gets in."""

import logging
import re

import pytest
from django.urls import reverse

from portal.audit.models import AuditEntry
from provisioning import cli
from provisioning.managed.models import FilespaceInit, FilespaceUser, SnapshotSchedule
from provisioning.models import Filespace
from tests.managed.conftest import ROOT_PASSWORD, remote_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_on(client, member_factory):
    """Sign in an owner (or `role`) of the filespace's customer and return the client."""

    def sign_in(filespace, role="owner"):
        member = member_factory(role=role, customer=filespace.customer)
        client.force_login(member.user)
        return client

    return sign_in


def password_not_in(response) -> bool:
    return "one-time-password" not in response.content.decode()


def url(name, *args):
    return reverse(f"filespaces:{name}", args=args)


def shown_password(page: str) -> str:
    return re.search(r'<code id="one-time-password">([^<]+)</code>', page).group(1)


def test_an_owner_creates_a_user_and_sees_its_password_once(
    sim, active, owner_on, caplog, tmp_path
):
    filespace = active()
    client = owner_on(filespace)
    caplog.set_level(logging.DEBUG)

    posted = client.post(url("user_create", filespace.pk), {"name": "Ann.Lee", "email": ""})

    # POST-redirect-GET: the password is on the page after the redirect, once.
    assert posted.status_code == 302
    assert password_not_in(posted)
    response = client.get(posted["Location"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = shown_password(response.content.decode())
    again = client.get(posted["Location"])
    assert "Already shown" in again.content.decode()
    assert password not in again.content.decode()
    assert len(password) >= 20
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 1
    assert list(FilespaceUser.objects.values_list("name", flat=True)) == ["Ann.Lee"]
    # The password works at LucidLink (a separate client links as Ann), and appears nowhere
    # after the reveal.
    ann = cli.LucidCli(qualified_name=filespace.qualified_name, state_dir=tmp_path / "ann")
    ann.run(
        ann._with_password(
            cli.Call(["lucid", "link", "--fs", filespace.qualified_name, "--user", "ann.lee"]),
            password,
        )
    )
    assert ann.status().user == "Ann.Lee"
    later = client.get(url("manage", filespace.pk)).content.decode()
    later += client.get(url("detail", filespace.pk)).content.decode()
    assert "Ann.Lee" in later
    assert password not in later
    assert ROOT_PASSWORD not in later
    assert password not in caplog.text and ROOT_PASSWORD not in caplog.text
    entry = AuditEntry.objects.get(action="filespace.user_created")
    assert entry.after == {"name": "Ann.Lee", "email": ""}
    assert password not in str(entry.after) + entry.note


def test_a_user_name_breaking_the_rules_is_a_form_error_and_nothing_is_created(
    sim, active, owner_on
):
    filespace = active()

    response = owner_on(filespace).post(url("user_create", filespace.pk), {"name": "ann lee!"})

    assert response.status_code == 400
    assert "no spaces" in response.content.decode()
    assert not FilespaceUser.objects.exists()
    assert sim.count("cli.user") == 0


def test_an_email_longer_than_the_record_holds_is_a_form_error_before_the_cli_runs(
    sim, active, owner_on
):
    filespace = active()
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"  # 308: valid, too long to store

    response = owner_on(filespace).post(
        url("user_create", filespace.pk), {"name": "ann", "email": email}
    )

    assert response.status_code == 400
    assert not FilespaceUser.objects.exists()
    assert sim.count("cli.user") == 0


def test_root_cannot_be_taken_as_a_user_name(sim, active, owner_on):
    filespace = active()

    response = owner_on(filespace).post(url("user_create", filespace.pk), {"name": "ROOT"})

    assert response.status_code == 400
    assert "administrator" in response.content.decode()
    assert sim.count("cli.user") == 0


def test_a_wrong_root_password_shows_a_clear_message_and_saves_nothing(sim, active, owner_on):
    filespace = active()
    Filespace.objects.filter(pk=filespace.pk).update(root_password="Wrong-root-password-1")

    response = owner_on(filespace).post(url("user_create", filespace.pk), {"name": "ann"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "did not accept the filespace&#x27;s root password" in page
    assert "Wrong-root-password-1" not in page
    assert not FilespaceUser.objects.exists()
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 0
    assert AuditEntry.objects.filter(action="filespace.user_create_failed").count() == 1


def test_an_unknown_filespace_at_lucidlink_shows_a_clear_message(sim, active, owner_on):
    filespace = active()
    Filespace.objects.filter(pk=filespace.pk).update(remote_name="vanished")

    response = owner_on(filespace).post(url("snapshot_create", filespace.pk), {"name": "x"})

    assert response.status_code == 400
    assert "LucidLink does not know this filespace" in response.content.decode()


def test_a_hanging_cli_shows_a_timeout_and_saves_nothing(active, owner_on, fake_cli, settings):
    filespace = active()
    fake_cli("sleep 10\n")
    settings.LUCID_CLI_TIMEOUT = 1

    response = owner_on(filespace).post(
        url("schedule_create", filespace.pk),
        {"name": "Nightly", "interval": "1d", "retention": "7"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "did not answer within 1 seconds" in page
    assert not SnapshotSchedule.objects.exists()


def test_deleting_a_user_removes_it_at_lucidlink_and_here(sim, active, owner_on):
    filespace = active()
    client = owner_on(filespace)
    client.post(url("user_create", filespace.pk), {"name": "bob"})
    user = FilespaceUser.objects.get()

    response = client.post(url("user_delete", user.pk))

    assert response.status_code == 302
    assert not FilespaceUser.objects.exists()
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 0
    assert AuditEntry.objects.filter(action="filespace.user_deleted").exists()


def test_snapshots_are_taken_listed_and_deleted_from_the_page(sim, active, owner_on):
    filespace = active()
    client = owner_on(filespace)

    taken = client.post(url("snapshot_create", filespace.pk), {"name": "Before (launch)"})
    client.post(url("snapshot_create", filespace.pk), {"name": ""})
    page = client.get(url("manage", filespace.pk)).content.decode()

    assert taken.status_code == 302
    assert "Before (launch)" in page and "snapshot-2" in page
    deleted = client.post(url("snapshot_delete", filespace.pk), {"snapshot_id": "1"})
    assert deleted.status_code == 302
    page = client.get(url("manage", filespace.pk)).content.decode()
    assert "Before (launch)" not in page and "snapshot-2" in page
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("filespace.snapshot_created") == 2
    assert actions.count("filespace.snapshot_deleted") == 1


def test_a_snapshot_name_breaking_the_rules_is_refused_before_the_cli(sim, active, owner_on):
    filespace = active()

    response = owner_on(filespace).post(url("snapshot_create", filespace.pk), {"name": "a/b"})

    assert response.status_code == 400
    assert sim.count("cli.snapshot") == 1  # only the page's list, never a create


def test_deleting_a_snapshot_that_is_gone_says_so(sim, active, owner_on):
    filespace = active()

    response = owner_on(filespace).post(url("snapshot_delete", filespace.pk), {"snapshot_id": "9"})

    assert response.status_code == 400
    assert "Snapshot with ID 9 not found." in response.content.decode()


def test_schedules_are_created_and_deleted_from_the_page(sim, active, owner_on):
    filespace = active()
    client = owner_on(filespace)

    response = client.post(
        url("schedule_create", filespace.pk), {"name": "Hourly", "interval": "1h", "retention": 24}
    )

    assert response.status_code == 302
    schedule = SnapshotSchedule.objects.get()
    runner = cli.for_filespace(filespace.qualified_name)
    assert [s.name for s in runner.schedule_list(root_password=ROOT_PASSWORD)] == ["Hourly"]
    assert client.post(url("schedule_delete", schedule.pk)).status_code == 302
    assert runner.schedule_list(root_password=ROOT_PASSWORD) == []
    assert not SnapshotSchedule.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "Hourly", "interval": "1 h", "retention": "3"}, "followed by m (minutes)"),
        ({"name": "Hourly", "interval": "0d", "retention": "3"}, "followed by m (minutes)"),
        ({"name": "Hourly", "interval": "2mo", "retention": "0"}, "greater than or equal to 1"),
        ({"name": "x" * 41, "interval": "1d", "retention": "3"}, "at most 40 characters"),
        ({"name": "a;b", "interval": "1d", "retention": "3"}, "Use 1 to 40 letters"),
    ],
)
def test_bad_schedule_input_is_a_form_error_and_nothing_is_created(
    sim, active, owner_on, data, error
):
    filespace = active()

    response = owner_on(filespace).post(url("schedule_create", filespace.pk), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SnapshotSchedule.objects.exists()
    assert sim.count("cli.snapshot-schedule") == 0


def test_a_schedule_name_taken_case_insensitively_is_a_form_error(sim, active, owner_on):
    filespace = active()
    client = owner_on(filespace)
    client.post(
        url("schedule_create", filespace.pk), {"name": "Daily", "interval": "1d", "retention": 7}
    )

    response = client.post(
        url("schedule_create", filespace.pk), {"name": "DAILY", "interval": "2d", "retention": 3}
    )

    assert response.status_code == 400
    assert "already has a schedule with that name" in response.content.decode()
    assert SnapshotSchedule.objects.count() == 1


def test_members_see_the_page_but_cannot_change_anything(sim, active, owner_on):
    filespace = active()
    client = owner_on(filespace, role="member")

    page = client.get(url("manage", filespace.pk)).content.decode()
    response = client.post(url("user_create", filespace.pk), {"name": "sneaky"})

    assert "owners and admins can change them" in page
    assert "Create user" not in page
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert not FilespaceUser.objects.exists()
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 0


def test_an_admin_may_change(sim, active, owner_on):
    filespace = active()

    response = owner_on(filespace, role="admin").post(url("snapshot_create", filespace.pk), {})

    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="filespace.snapshot_created").exists()


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_a_customer_that_is_not_active_cannot_change(sim, active, owner_on, status):
    filespace = active()
    filespace.customer.status = status
    filespace.customer.save()
    client = owner_on(filespace)

    page = client.get(url("manage", filespace.pk)).content.decode()
    response = client.post(url("user_create", filespace.pk), {"name": "ann"})

    assert f"account is {status}" in page
    assert "Create user" not in page
    assert response.status_code in (302, 400)
    assert not FilespaceUser.objects.exists()
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 0


def test_the_filespace_page_offers_init_to_managers_and_starts_it(
    provisioned, owner_on, monkeypatch, django_capture_on_commit_callbacks
):
    from provisioning.managed import tasks as managed_tasks

    sent = []
    monkeypatch.setattr(managed_tasks.initialize_filespace, "delay", sent.append)
    filespace = provisioned()
    client = owner_on(filespace)

    assert "Initialize for me" in client.get(url("detail", filespace.pk)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("initialize", filespace.pk))

    assert response.status_code == 302
    init = FilespaceInit.objects.get(filespace=filespace)
    assert sent == [init.pk]
    page = client.get(response["Location"]).content.decode()
    assert "is initializing the filespace" in page
    assert 'hx-trigger="every 3s"' in page  # the page polls until init is done
    filespace.refresh_from_db()
    assert filespace.root_password and filespace.root_password not in page


def test_members_are_not_offered_init_and_cannot_start_it(provisioned, owner_on):
    filespace = provisioned()
    client = owner_on(filespace, role="member")

    assert "Initialize for me" not in client.get(url("detail", filespace.pk)).content.decode()
    assert client.post(url("initialize", filespace.pk)).status_code == 302
    assert not FilespaceInit.objects.exists()


def _managed_urls_for(filespace_factory, customer):
    filespace = filespace_factory(customer=customer, state="active", root_password=ROOT_PASSWORD)
    user = FilespaceUser.objects.create(filespace=filespace, name="theirs")
    schedule = SnapshotSchedule.objects.create(
        filespace=filespace, name="theirs", interval="1d", retention=1
    )
    return [
        ("get", url("manage", filespace.pk)),
        ("post", url("initialize", filespace.pk)),
        ("post", url("user_create", filespace.pk)),
        ("post", url("user_delete", user.pk)),
        ("post", url("snapshot_create", filespace.pk)),
        ("post", url("snapshot_delete", filespace.pk)),
        ("post", url("schedule_create", filespace.pk)),
        ("post", url("schedule_delete", schedule.pk)),
    ]


@pytest.mark.parametrize("role", ["owner", "admin", "billing", "member"])
def test_every_managed_url_is_a_404_for_another_customers_people(
    client, member_factory, customer_factory, filespace_factory, fake_cli, tmp_path, role
):
    called = tmp_path / "called"
    fake_cli(f"touch {called}; exit 1\n")
    outsider = member_factory(role=role)
    client.force_login(outsider.user)

    for method, target in _managed_urls_for(filespace_factory, customer_factory()):
        data = {"name": "x", "interval": "1d", "retention": "1", "snapshot_id": "1"}
        response = getattr(client, method)(target, data if method == "post" else None)
        assert response.status_code == 404, (role, target)

    assert not called.exists()
    assert FilespaceUser.objects.count() == 1 and SnapshotSchedule.objects.count() == 1
    assert not FilespaceInit.objects.exists()


def test_an_active_filespace_page_links_to_management_and_does_not_poll(active, owner_on):
    filespace = active()

    page = owner_on(filespace, role="member").get(url("detail", filespace.pk)).content.decode()

    assert url("manage", filespace.pk) in page
    assert 'hx-select="#managed-section"' not in page


@pytest.mark.parametrize("role", ["member", "billing"])
def test_members_and_billing_change_nothing_through_any_managed_url(
    client, member_factory, filespace_factory, fake_cli, tmp_path, role
):
    called = tmp_path / "called"
    fake_cli(f"touch {called}; exit 1\n")
    person = member_factory(role=role)
    client.force_login(person.user)
    posts = [
        (method, target)
        for method, target in _managed_urls_for(filespace_factory, person.customer)
        if method == "post"
    ]

    for _method, target in posts:
        data = {"name": "x", "interval": "1d", "retention": "1", "snapshot_id": "1"}
        response = client.post(target, data)
        assert response.status_code == 302, target
        assert response["Location"] == reverse("dashboard")

    assert not called.exists()
    assert list(FilespaceUser.objects.values_list("name", flat=True)) == ["theirs"]
    assert SnapshotSchedule.objects.count() == 1
    assert not FilespaceInit.objects.exists()
