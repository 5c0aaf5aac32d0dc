"""A missing or failing CLI: the customer reads "Needs attention", staff see it, support is told."""

import sys
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.urls import reverse

from provisioning import cli
from provisioning.managed import services as managed
from provisioning.managed import tasks as managed_tasks
from provisioning.managed.models import FilespaceInit
from provisioning.models import Filespace

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """Init and support-mail tasks run in this process when their transaction commits."""
    monkeypatch.setattr(
        managed_tasks.initialize_filespace,
        "delay",
        lambda pk: managed_tasks.initialize_filespace(pk),
    )
    monkeypatch.setattr(
        managed_tasks.send_support_email,
        "delay",
        lambda *args: managed_tasks.send_support_email(*args),
    )


def test_with_the_cli_missing_the_customer_sees_needs_attention_staff_see_it_and_support_is_mailed(
    sim, provisioned, member_factory, user_factory, client, settings, tmp_path,
    tasks_run_inline, django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.LUCID_CLI_PATH = str(tmp_path / "no-such-lucid")
    settings.SUPPORT_EMAIL = "help@msp.example"
    filespace = provisioned()
    owner = member_factory(role="owner", customer=filespace.customer)
    client.force_login(owner.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("filespaces:initialize", args=[filespace.pk]))
    assert response.status_code == 302

    # One attempt, no retries: a missing binary is a setup fault retrying cannot fix.
    init = FilespaceInit.objects.get(filespace=filespace)
    assert init.state == FilespaceInit.State.FAILED
    assert init.attempts == 1
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "Needs attention" in page
    assert "not available on the portal" in page
    assert "support team has been told" in page
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert '<span class="badge badge-bad">Needs attention</span>' in dashboard
    assert "Ready to initialize" not in dashboard

    # Support's mail is real, addressed to SUPPORT_EMAIL, naming the filespace and the reason.
    support = [m for m in mail.outbox if m.to == ["help@msp.example"]]
    assert len(support) == 1
    assert filespace.qualified_name in support[0].subject
    assert "not available on the portal" in support[0].body

    # Staff: the dashboard counts it and the provisioning queue lists it with the reason.
    staff = user_factory("ops@msp.example", is_staff=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client.force_login(staff)
    console = client.get(reverse("staff:dashboard")).content.decode()
    assert '<p class="stat" id="count-failed">1</p>' in console
    queue = client.get(reverse("staff:filespaces")).content.decode()
    assert filespace.qualified_name in queue
    assert "Initialization failed: The LucidLink client is not available" in queue


def test_after_support_fixes_the_cli_the_customer_tries_again_and_it_works(
    sim, provisioned, member_factory, client, settings, tmp_path,
    tasks_run_inline, django_capture_on_commit_callbacks,
):  # fmt: skip
    real = settings.LUCID_CLI_PATH
    settings.LUCID_CLI_PATH = str(tmp_path / "no-such-lucid")
    filespace = provisioned()
    owner = member_factory(role="owner", customer=filespace.customer)
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("filespaces:initialize", args=[filespace.pk]))
    settings.LUCID_CLI_PATH = real

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("filespaces:initialize", args=[filespace.pk]))

    filespace.refresh_from_db()
    assert filespace.state == Filespace.State.ACTIVE
    page = client.get(reverse("dashboard")).content.decode()
    assert "Needs attention" not in page


def test_a_bare_cli_name_is_found_beside_the_running_interpreter_without_path(
    sim, provisioned, settings, monkeypatch
):
    """`make run`'s worker: lucidsim-cli sits in the virtualenv's bin, which is not on PATH."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    settings.LUCID_CLI_PATH = "lucidsim-cli"
    assert cli.resolve_cli_path("lucidsim-cli") == str(Path(sys.executable).parent / "lucidsim-cli")
    filespace = provisioned()
    assert cli.for_filespace(filespace.qualified_name).status().linked is False


def test_a_name_found_nowhere_stays_as_given_so_the_failure_names_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.resolve_cli_path("no-such-lucid-anywhere") == "no-such-lucid-anywhere"
    assert cli.resolve_cli_path("/opt/lucid/bin/lucid") == "/opt/lucid/bin/lucid"


def test_an_options_refusal_on_a_user_change_tells_support_too(
    sim, active, member_factory, fake_cli, settings, django_capture_on_commit_callbacks,
    monkeypatch,
):  # fmt: skip
    sent = []
    monkeypatch.setattr(managed_tasks.send_support_email, "delay", lambda *a: sent.append(a))
    filespace = active()
    owner = member_factory(role="owner", customer=filespace.customer)
    fake_cli('echo "usage: lucid [-h]" >&2; exit 2\n')

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(cli.OptionsRefused):
        managed.filespace_user_create(filespace=filespace, actor=owner.user, name="ann")

    assert len(sent) == 1
    assert sent[0][0] == filespace.pk
