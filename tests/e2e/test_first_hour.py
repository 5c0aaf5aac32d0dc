"""The customer's first hour: from an order to a filespace linked and mounted as their own user.

Each journey downloads the bash script from the filespace page and runs it against lucidsim-cli
(the simulator's `lucid`), then asks that client what it is linked to. At 390 px every page the
journey visits must fit the viewport (no sideways scrolling).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from provisioning.models import Filespace
from tests.e2e.conftest import PASSWORD, PASSWORD_LABEL, mail_link, sign_in

pytestmark = pytest.mark.worker

FACTORY_PASSWORD = "correct-horse-battery-9"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 860}


@pytest.fixture
def cli_env(sim, tmp_path, settings, monkeypatch) -> dict[str, str]:
    """The customer's computer: lucidsim-cli as `lucid`, its own client state.

    The live server runs the CLI too (filespace users), with its own state directory.
    """
    monkeypatch.setenv("LUCIDSIM_URL", sim.url)
    settings.LUCID_CLI_STATE_DIR = tmp_path / "portal-cli"
    return {
        **os.environ,
        "LUCID": sim.cli_path,
        "LUCIDSIM_URL": sim.url,
        "LUCIDSIM_CLI_STATE": str(tmp_path / "customer-computer.json"),
    }


@pytest.fixture
def journey_worker(celery_worker_factory, sim, tmp_path):
    """A real worker that finds lucidsim-cli by itself (LUCID_CLI_PATH is the bare default)."""
    from tests.e2e.conftest import worker_env

    env = worker_env(sim) | {
        "LUCIDSIM_URL": sim.url,
        "LUCID_CLI_STATE_DIR": str(tmp_path / "worker-cli"),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    env.pop("LUCID_CLI_PATH", None)
    return celery_worker_factory(env=env, beat=True)


def open_menu_if_folded(page) -> None:
    """On a phone the header's links sit behind the Menu button: open it, as a person would."""
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def fits(page) -> None:
    """No sideways scrolling: the page is no wider than the viewport."""
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px viewport"


def visit(page, shots, name: str) -> None:
    """Check the page fits the viewport and screenshot it, one-time passwords painted over."""
    fits(page)
    shots(page, name, mask=(page.locator("#one-time-password"),))


def one_time_password(page) -> str:
    return page.locator("#one-time-password").inner_text().strip()


def run_script(page, cli_env: dict, password: str) -> str:
    """Download the bash script from the link step and run it; its output."""
    with page.expect_download() as download:
        page.get_by_role("link", name="Download for macOS and Linux (bash)").click()
    script = Path(download.value.path())
    body = script.read_text(encoding="utf-8")
    assert password not in body
    result = subprocess.run(
        ["bash", str(script)],
        env=cli_env | {"LUCID_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def client_status(cli_env: dict) -> str:
    return subprocess.run(
        [cli_env["LUCID"], "status"], env=cli_env, capture_output=True, text=True, check=True
    ).stdout


def create_own_user_and_connect(page, shots, cli_env, *, user_name: str, prefix: str) -> None:
    """Steps 2 to 6 of the guide, as any member does them."""
    guide = page.get_by_role("region", name="Connect")
    expect(guide).to_contain_text("Step 2 of 6: Your filespace user", timeout=45_000)
    visit(page, shots, f"{prefix}-your-user")
    page.get_by_label("Filespace user name").fill(user_name)
    page.get_by_role("button", name="Create my filespace user").click()
    expect(page.get_by_role("heading", name=f"Password of {user_name}")).to_be_visible()
    password = one_time_password(page)
    visit(page, shots, f"{prefix}-password-once")
    page.reload()
    expect(page.get_by_role("heading", name="Already shown")).to_be_visible()
    assert password not in page.content()
    page.get_by_role("link", name="the filespace page").click()

    expect(guide).to_contain_text("Step 3 of 6: Install the LucidLink client")
    assert "lucid link" not in guide.inner_text()
    visit(page, shots, f"{prefix}-install")
    page.get_by_role("link", name="Next: link this computer").click()
    expect(guide).to_contain_text("Step 4 of 6: Link this computer")
    expect(guide).to_contain_text(f"--user {user_name}")
    visit(page, shots, f"{prefix}-link")
    output = run_script(page, cli_env, password)
    assert f"linked as '{user_name}'" in output
    status = client_status(cli_env)
    assert f"User: {user_name}" in status
    assert "Mounted: yes" in status
    assert "Cache: on, 10240 MiB" in status

    page.get_by_role("link", name="Next: mount").click()
    expect(guide).to_contain_text("Step 5 of 6: Mount the filespace")
    visit(page, shots, f"{prefix}-mount")
    page.get_by_role("link", name="Next: local cache").click()
    expect(guide).to_contain_text("Step 6 of 6: Turn on the local cache")
    visit(page, shots, f"{prefix}-cache")


def sign_up_and_create_organisation(page, portal, shots, email: str, company: str) -> None:
    page.goto(portal + "/")
    open_menu_if_folded(page)
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    visit(page, shots, "signup")
    page.get_by_role("button", name="Sign Up").click()
    page.goto(portal + mail_link(mail.outbox[-1], "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Set up your organisation")).to_be_visible()
    page.get_by_label("Company name").fill(company)
    country = page.get_by_label("Country")
    if country.evaluate("e => e.tagName") == "SELECT":
        country.select_option("GB")
    else:
        country.fill("GB")
    visit(page, shots, "onboarding")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name=company)).to_be_visible()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280px", "390px"])
def test_a_new_customer_orders_lucidlink_storage_and_mounts_it_as_their_own_user(
    portal, journey_worker, plan, browser, shots, cli_env, viewport
):
    shots.journey = f"first-hour-{viewport['width']}px"
    page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
    page.set_default_timeout(10_000)
    sign_up_and_create_organisation(page, portal, shots, "dana@studio.example", "Northwind")

    page.get_by_role("link", name="Order a filespace").first.click()
    visit(page, shots, "plans")
    page.get_by_role("link", name="Order Teams Standard").click()
    page.get_by_label("Filespace name").fill("media")
    expect(page.locator("#name-check")).to_contain_text("available", ignore_case=True)
    page.get_by_label("Region").select_option("eu-de")
    page.get_by_label(re.compile("Expected storage")).fill("2000")
    visit(page, shots, "order-form")
    page.get_by_role("button", name="Review order").click()
    visit(page, shots, "order-review")
    page.get_by_role("button", name="Place order").click()

    # The timeline runs by itself; then the guide opens on its first step.
    guide = page.get_by_role("region", name="Connect")
    expect(guide).to_contain_text("Step 1 of 6: Initialize the filespace", timeout=45_000)
    visit(page, shots, "initialize")
    page.get_by_role("button", name="Initialize for me").click()
    filespace = Filespace.objects.get(customer__name="Northwind")
    assert filespace.root_password  # the portal holds root, encrypted

    create_own_user_and_connect(page, shots, cli_env, user_name="dana", prefix="lucidlink")
    assert f"Filespace: {filespace.qualified_name}" in client_status(cli_env)
    assert filespace.root_password not in page.content()
    page.goto(portal + "/dashboard/")
    expect(page.get_by_role("link", name=filespace.qualified_name)).to_be_visible()
    visit(page, shots, "dashboard")


def test_an_owner_initializes_their_own_bucket_then_mounts_as_their_own_user(
    portal, journey_worker, plan_factory, browser, shots, cli_env, customer_factory,
    member_factory, user_factory,
):  # fmt: skip
    plan_factory(
        name="Own Bucket", slug="own-bucket", storage_owner="customer",
        subscription_type="custom", provider="AWS", allowed_regions=["eu-west-1"],
    )  # fmt: skip
    shots.journey = "first-hour-own-bucket-390px"
    customer = customer_factory(name="Tailspin", name_prefix="tailspin")
    owner = member_factory(role="owner", customer=customer, user=user_factory("tom@tail.example"))
    page = browser.new_context(viewport=PHONE, accept_downloads=True).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, portal, owner.user.email, FACTORY_PASSWORD)

    page.get_by_role("link", name="Order a filespace").first.click()
    page.get_by_role("link", name="Order Own Bucket").click()
    page.get_by_label("Filespace name").fill("archive")
    page.get_by_label("Region").select_option("eu-west-1")
    page.get_by_label("Bucket name").fill("tailspin-archive")
    page.get_by_label("Access key ID").fill("AKIAEXAMPLE")
    page.get_by_label("Secret access key").fill("bucket-secret")
    page.get_by_label(re.compile("Expected storage")).fill("500")
    visit(page, shots, "own-order-form")
    page.get_by_role("button", name="Review order").click()
    page.get_by_role("button", name="Place order").click()

    guide = page.get_by_role("region", name="Connect")
    expect(guide).to_contain_text("Step 1 of 6: Initialize the filespace", timeout=45_000)
    visit(page, shots, "own-initialize-choice")
    page.get_by_role("button", name="I will initialize it myself").click()
    expect(page.get_by_role("heading", name=re.compile("The root password"))).to_be_visible()
    root = one_time_password(page)
    visit(page, shots, "own-root-once")
    page.get_by_role("link", name="I have saved it: continue").click()

    # The owner runs the one init-s3 command shown, with the root password and their key.
    command = guide.locator("#cmd-init").inner_text()
    visit(page, shots, "own-init-command")
    command = command.replace("'<filespace root password>'", shlex.quote(root))
    command = command.replace("'<bucket secret key>'", "bucket-secret")
    args = shlex.split(command)
    assert args[0] == "lucid"
    result = subprocess.run(
        [cli_env["LUCID"], *args[1:]], env=cli_env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    page.get_by_role("button", name="I have run it: check now").click()

    create_own_user_and_connect(page, shots, cli_env, user_name="tom", prefix="own-bucket")


def test_an_invited_member_creates_their_own_user_and_mounts_the_filespace(
    portal, journey_worker, plan, browser, shots, cli_env, customer_factory, member_factory,
    user_factory, filespace_factory, sim, msp_domain, monkeypatch,
):  # fmt: skip
    from provisioning import cli

    shots.journey = "first-hour-member-390px"
    customer = customer_factory(name="Fabrikam", name_prefix="fabrikam")
    owner = member_factory(role="owner", customer=customer, user=user_factory("olivia@fab.example"))
    # A filespace the portal initialized earlier (it holds the root password).
    sim.set_delay(0)
    remote = sim.api("POST", "/filespaces", {
        "domain": msp_domain["id"], "name": "fabrikam-projects", "subscriptionType": "teams",
        "storage": {"owner": "lucidlink", "provider": "IBM", "region": "us-east"},
    })  # fmt: skip
    assert remote.status_code == 201, remote.text
    root = "Root-password-held-by-the-portal-1"
    filespace = filespace_factory(
        customer=customer, plan=plan, name="projects", state="provisioned",
        remote_id=remote.json()["id"], domain_name="msp-e2e", root_password=root,
    )  # fmt: skip
    monkeypatch.setenv("LUCIDSIM_URL", sim.url)
    cli.LucidCli(qualified_name=filespace.qualified_name, path=sim.cli_path).init_s3(
        root_password=root, endpoint="s3.example.net", https=True, access_key="k",
        secret_key="s", region="us-east", provider="IBM",
    )  # fmt: skip
    Filespace.objects.filter(pk=filespace.pk).update(state="active")

    # The owner invites Sam as a plain member.
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, portal, owner.user.email, FACTORY_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    page.get_by_label("Email address").fill("sam@fab.example")
    page.get_by_label(re.compile(r"^Role:?$")).select_option(label="Member")
    page.get_by_role("button", name="Send invitation").click()
    link = mail_link(mail.outbox[-1], "/organisation/invitations/")

    member = browser.new_context(viewport=PHONE, accept_downloads=True).new_page()
    member.set_default_timeout(10_000)
    member.goto(portal + link)
    member.get_by_role("link", name="Create an account").click()
    member.get_by_label("Email").fill("sam@fab.example")
    member.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    member.get_by_label("Password (again)").fill(PASSWORD)
    member.get_by_role("button", name="Sign Up").click()
    member.get_by_role("button", name="Accept and join").click()
    member.get_by_role("link", name=filespace.qualified_name).click()
    visit(member, shots, "member-filespace")

    create_own_user_and_connect(member, shots, cli_env, user_name="sam", prefix="member")
    assert "Delete this filespace" not in member.content()  # members cannot delete
