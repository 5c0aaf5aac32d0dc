"""A new customer, end to end, as a person would go: through the web pages, a real Celery
worker, the lucidsim Service API and the lucidsim `lucid` CLI.

Needs PostgreSQL and a real broker (the worker fixture says why when it skips).
"""

import os
import re
import subprocess

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.customers.models import Membership
from provisioning import lucidlink
from provisioning.domain import msp_domain_forget
from provisioning.models import Filespace
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.worker

PASSWORD = "a-long-enough-passphrase-42"
ROOT_PASSWORD = "root-passphrase-for-the-fs"


@pytest.fixture
def sim(lucidsim, settings):
    lucidsim.create_domain("msp")
    settings.LUCIDLINK_API_URL = lucidsim.api_url
    settings.LUCIDLINK_TOKEN_URL = lucidsim.token_url
    settings.LUCIDLINK_CLIENT_ID = lucidsim.client_id
    settings.LUCIDLINK_CLIENT_SECRET = lucidsim.client_secret
    lucidlink.forget_tokens()
    msp_domain_forget()
    yield lucidsim
    msp_domain_forget()


def _worker_env(sim) -> dict[str, str]:
    return {
        "LUCIDLINK_API_URL": sim.api_url,
        "LUCIDLINK_TOKEN_URL": sim.token_url,
        "LUCIDLINK_CLIENT_ID": sim.client_id,
        "LUCIDLINK_CLIENT_SECRET": sim.client_secret,
        "PROVISIONING_POLL_INTERVAL": "1",
        "PROVISIONING_FIRST_POLL_DELAY": "1",
        "PROVISIONING_READY_POLL_INTERVAL": "1",
    }


def _link(message, pattern: str) -> str:
    return re.search(rf"https?://[^/\s]+({pattern}[^\s]*)", message.body).group(1)


def _sign_up(client: Client, email: str, next_url: str = "") -> None:
    url = reverse("account_signup") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"email": email, "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:3000]


def test_a_new_customer_signs_up_orders_and_connects(
    isolated_cache, sim, plan_factory, celery_worker_factory, tmp_path
):
    plan = plan_factory(
        slug="byo-aws",
        name="Own AWS bucket",
        storage_owner="customer",
        subscription_type="custom",
        provider="AWS",
        allowed_regions=["eu-west-1"],
    )
    worker = celery_worker_factory(env=_worker_env(sim), beat=True)

    # 1. Sign up and verify the email address from the outbox.
    owner = Client()
    _sign_up(owner, "founder@acme.test")
    confirm = _link(mail.outbox[-1], "/accounts/confirm-email/")
    owner.post(confirm)
    assert owner.get(reverse("dashboard"))["Location"] == reverse("customers:onboarding")

    # 2. Create the organisation.
    owner.post(
        reverse("customers:onboarding"),
        {"name": "Acme Media", "billing_email": "billing@acme.test", "country": "GB"},
    )
    assert b"No filespaces yet" in owner.get(reverse("dashboard")).content

    # 3. Invite a teammate, who signs up from the link and accepts.
    owner.post(reverse("customers:invite"), {"email": "editor@acme.test", "role": "member"})
    invitation = _link(mail.outbox[-1], "/organisation/invitations/")
    teammate = Client()
    assert b"Join Acme Media" in teammate.get(invitation).content
    _sign_up(teammate, "editor@acme.test", next_url=invitation)
    assert teammate.post(invitation)["Location"] == reverse("dashboard")
    assert Membership.objects.get(user__email="editor@acme.test").role == "member"

    # 4. Order: form (the name checked as typed), review, place.
    check = owner.get(reverse("orders:check_name"), {"name": "media"}, HTTP_HX_REQUEST="true")
    assert "acmemedia-media.msp" in check.content.decode()
    review = owner.post(
        reverse("orders:new", args=[plan.slug]),
        {
            "name": "media",
            "provider": "AWS",
            "region": "eu-west-1",
            "bucket": "acme-media-bucket",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "bucket-secret-value",
            "expected_units": "500",
        },
    )
    assert review.status_code == 302, review.content.decode()[:3000]
    key = review["Location"].rstrip("/").rsplit("/", 1)[1]
    placed = owner.post(reverse("orders:place"), {"idempotency_key": key})
    owner.post(reverse("orders:place"), {"idempotency_key": key})  # an impatient double click
    filespace = Filespace.objects.get()
    assert owner.get(placed["Location"])["Location"] == reverse(
        "filespaces:detail", args=[filespace.pk]
    )

    # 5. The page follows provisioning until the filespace is ready.
    progress = reverse("filespaces:progress", args=[filespace.pk])
    try:
        wait_until(
            lambda: "Ready to connect" in _done_steps(teammate.get(progress).content.decode()),
            timeout=60,
        )
    except pytest.fail.Exception:
        pytest.fail(f"not provisioned; worker log:\n{worker.log()}")
    filespace.refresh_from_db()
    assert filespace.state == "provisioned"
    assert sim.count("createFilespace") == 1

    # 6. The teammate downloads the kit and runs it against the CLI simulator.
    script = teammate.get(reverse("filespaces:script_sh", args=[filespace.pk])).content.decode()
    assert "bucket-secret-value" not in script
    path = tmp_path / "connect.sh"
    path.write_text(script)
    env = {
        **os.environ,
        **sim.cli_env(tmp_path),
        "LUCID": sim.cli_path,
        "LUCID_ROOT_PASSWORD": ROOT_PASSWORD,
        "LUCID_SECRET_KEY": "bucket-secret-value",
        "LUCID_PASSWORD": ROOT_PASSWORD,
    }
    result = subprocess.run(
        ["bash", str(path)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "linked as 'root'" in result.stdout
    assert "Cache enabled with size 10240 MiB." in result.stdout


def _done_steps(partial: str) -> str:
    return " ".join(re.findall(r'class="timeline-done">.*?<strong>(.*?)</strong>', partial, re.S))
