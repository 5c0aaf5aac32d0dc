"""The downloaded scripts run against the `lucid` CLI simulator (lucidsim-cli + lucidsim)."""

import os
import shutil
import subprocess

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT_PASSWORD = "root-passphrase-1"


@pytest.fixture
def ready_own_storage_filespace(lucidsim, owner, filespace_factory, plan_factory):
    """A filespace lucidsim provisioned on the customer's AWS bucket, mirrored in the portal."""
    domain = lucidsim.create_domain("msp")
    name = f"{owner.customer.name_prefix}-media"
    body = {
        "domain": domain["id"],
        "name": name,
        "subscriptionType": "custom",
        "storage": {
            "owner": "customer",
            "provider": "AWS",
            "region": "eu-west-1",
            "bucket": "acme-media-bucket",
        },
    }
    created = lucidsim.api("POST", "/filespaces", body)
    assert created.status_code == 201, created.text
    plan = plan_factory(
        slug="byo",
        storage_owner="customer",
        subscription_type="custom",
        provider="AWS",
        allowed_regions=["eu-west-1"],
    )
    filespace = filespace_factory(
        customer=owner.customer,
        plan=plan,
        name="media",
        state="provisioned",
        region="eu-west-1",
        bucket="acme-media-bucket",
        domain_name="msp",
        remote_id=created.json()["id"],
    )
    filespace.order.access_key = "AKIAEXAMPLE"
    filespace.order.save()
    assert lucidsim.api("GET", f"/filespaces/{created.json()['id']}").json()["status"] in (
        "provisioned",
        "provisioning",
    )
    return filespace


def _run(script: str, lucidsim, tmp_path, **env) -> subprocess.CompletedProcess:
    path = tmp_path / "connect.sh"
    path.write_text(script)
    full_env = {
        **os.environ,
        **lucidsim.cli_env(tmp_path),
        "LUCID": lucidsim.cli_path,
        **env,
    }
    return subprocess.run(
        ["bash", str(path)], env=full_env, capture_output=True, text=True, timeout=60, check=False
    )


def _wait_provisioned(lucidsim, remote_id):
    from tests.fixtures.worker import wait_until

    wait_until(
        lambda: lucidsim.api("GET", f"/filespaces/{remote_id}").json()["status"] == "provisioned",
        timeout=20,
    )


def test_the_bash_script_initializes_links_mounts_and_sets_the_cache(
    owner_client, lucidsim, ready_own_storage_filespace, tmp_path
):
    filespace = ready_own_storage_filespace
    _wait_provisioned(lucidsim, filespace.remote_id)
    script = owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk])).content.decode()
    assert ROOT_PASSWORD not in script
    result = _run(
        script,
        lucidsim,
        tmp_path,
        LUCID_ROOT_PASSWORD=ROOT_PASSWORD,
        LUCID_SECRET_KEY="bucket-secret",
        LUCID_PASSWORD=ROOT_PASSWORD,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert f"Filespace '{filespace.qualified_name}' initialized successfully." in out
    assert f"Filespace '{filespace.qualified_name}' linked as 'root'." in out
    assert "Cache enabled with size 10240 MiB." in out
    status = subprocess.run(
        [lucidsim.cli_path, "status"],
        env={**os.environ, **lucidsim.cli_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Linked" in status.stdout
    assert (
        lucidsim.api("GET", f"/filespaces/{filespace.remote_id}").json()["status"] == "initialized"
    )


def test_the_bash_script_stops_at_the_first_failing_command(
    owner_client, lucidsim, ready_own_storage_filespace, tmp_path
):
    filespace = ready_own_storage_filespace
    _wait_provisioned(lucidsim, filespace.remote_id)
    script = owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk])).content.decode()
    result = _run(
        script,
        lucidsim,
        tmp_path,
        LUCID_ROOT_PASSWORD="short",
        LUCID_SECRET_KEY="bucket-secret",
        LUCID_PASSWORD="short",
    )
    assert result.returncode != 0
    assert "at least 8 characters" in result.stderr
    assert "linked as" not in result.stdout


def test_the_powershell_script_runs_the_same_commands_as_the_bash_one(
    owner_client, ready_own_storage_filespace
):
    filespace = ready_own_storage_filespace
    sh = owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk])).content.decode()
    ps1 = owner_client.get(reverse("filespaces:script_ps1", args=[filespace.pk])).content.decode()
    for command in ("init-s3", "link", "mount", "cache"):
        assert f"'{command}'" in ps1 and f" {command}" in sh
    for value in (filespace.qualified_name, "AKIAEXAMPLE", "eu-west-1", "acme-media-bucket", "AWS"):
        assert value in sh and value in ps1
    assert "$env:LUCID_ROOT_PASSWORD" in ps1 and "$env:LUCID_SECRET_KEY" in ps1
    if shutil.which("pwsh"):
        result = subprocess.run(
            ["pwsh", "-NoProfile", "-Command", f"$null = [ScriptBlock]::Create(@'\n{ps1}\n'@)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
