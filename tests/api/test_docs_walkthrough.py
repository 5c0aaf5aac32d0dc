"""Run the curl walkthrough of docs/api.md, exactly as written, against a live portal.

The portal is pytest-django's live server, LucidLink is lucidsim over HTTP and the work is done
by a real Celery worker with beat; only the PORTAL and KEY variables come from the test.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from billing.models import UsageSample
from provisioning import lucidlink
from tests.fixtures.worker import wait_until
from tests.provisioning.test_real_worker import msp_domain_forget_for, worker_env

pytestmark = pytest.mark.worker

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"^```bash walkthrough\n(.*?)^```", re.MULTILINE | re.DOTALL)


def walkthrough_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_the_docs_hold_five_walkthrough_blocks_using_only_curl_and_sed():
    blocks = walkthrough_blocks()
    assert len(blocks) == 5
    commands = set(re.findall(r"(?:^|\$\(|\|)\s*([a-z]+)\b", "\n".join(blocks), re.MULTILINE))
    assert commands <= {"export", "curl", "sed", "echo", "for", "do", "done", "sleep", "seq"}


def _run(script: str, env: dict[str, str], state: Path) -> str:
    """Run blocks with every variable exported and saved, so the next run picks up from here."""
    source = f'[ -f "{state}" ] && . "{state}"\n' if state.exists() else ""
    full = f'set -euo pipefail\nset -a\n{source}{script}\nexport -p > "{state}"\n'
    done = subprocess.run(
        ["bash", "-c", full], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"walkthrough failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def sim(lucidsim):
    lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget_for(lucidsim)
    yield lucidsim
    msp_domain_forget_for(lucidsim)


def test_the_curl_walkthrough_creates_a_customer_orders_provisions_and_reads_usage(
    sim, celery_worker_factory, live_server, plan_factory, user_factory, tmp_path
):
    from portal.apikeys.services import apikey_create

    plan_factory(name="Teams on IBM", slug="teams-ibm", provider="IBM")
    staff = user_factory(email="ops@msp.example", is_staff=True, mfa=True)
    _key, raw = apikey_create(name="walkthrough", created_by=staff)
    worker = celery_worker_factory(env=worker_env(sim), beat=True)
    env = {"PATH": os.environ["PATH"], "PORTAL": live_server.url, "KEY": raw}
    state = tmp_path / "walkthrough.env"
    first, second, third, fourth, fifth = walkthrough_blocks()

    out = _run(first + second + third + fourth, env, state)
    assert "customer " in out and "is provisioned" in out, out
    filespace_id = int(re.search(r"filespace (\d+) is provisioned", out).group(1))

    # The worker samples usage on its beat schedule; ask it for this slot's sample now.
    from billing.tasks import collect_usage

    collect_usage.delay()
    wait_until(lambda: UsageSample.objects.filter(filespace_id=filespace_id).exists(), timeout=60)

    usage = _run(fifth, env, state)
    assert '"used_storage":' in usage, usage + worker.log()
    assert usage.count('"results":') == 2

    # The idempotent order POST of the walkthrough, sent again, places nothing new.
    again = _run(third, env, state)
    assert f"filespace {filespace_id}" in again
