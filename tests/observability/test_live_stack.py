"""Done-when: Debian's Prometheus scrapes a live portal (gunicorn, two workers) and a real Celery
worker; after an order goes through, the provisioning and HTTP metrics are read back through
Prometheus's HTTP query API, and the worker's JSON log lines carry the order request's ids.

Skips, saying why, without PostgreSQL + Redis (tests/fixtures/worker.py) or without the
`prometheus` binary (CI installs Debian's package).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from provisioning import lucidlink
from provisioning.models import Filespace
from tests.fixtures.worker import PROJECT_ROOT, wait_until, worker_database_url
from tests.provisioning.test_real_worker import msp_domain_forget_for, worker_env

pytestmark = pytest.mark.worker
TOKEN = "live-stack-metrics-token-42"
ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process with its output in a file, stopped (with its group) at teardown."""

    def __init__(self, command: list[str], *, env: dict[str, str], log: Path, cwd: Path):
        self.log_path = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def wait_for_http(self, url: str, timeout: float = 60) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"{self.log_path.name} exited:\n{self.log()}")
            try:
                return requests.get(url, timeout=2).status_code < 500
            except requests.RequestException:
                return False

        wait_until(answers, timeout=timeout, interval=0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture
def sim(lucidsim):
    lucidsim.create_domain("msp")
    lucidlink.forget_tokens()
    msp_domain_forget_for(lucidsim)
    yield lucidsim
    msp_domain_forget_for(lucidsim)


def portal_env(sim, tmp_path: Path, **extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "DATABASE_URL": worker_database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "CELERY_QUEUE_PREFIX": settings.CELERY_QUEUE_PREFIX,
            "METRICS_TOKEN": TOKEN,
            "METRICS_ALLOWED_IPS": "192.0.2.1",  # not us: the token has to work
            "LOG_FORMAT": "json",
            **worker_env(sim),
            **extra,
        }
    )
    return env


def start_prometheus(tmp_path: Path, targets: dict[str, int], processes: list) -> str:
    binary = shutil.which("prometheus")
    port = free_port()
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "token").write_text(TOKEN)
    shutil.copy(ALERTS, directory / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": job,
                "authorization": {"type": "Bearer", "credentials_file": str(directory / "token")},
                "static_configs": [{"targets": [f"127.0.0.1:{target}"]}],
            }
            for job, target in targets.items()
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    command = [
        binary,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    process = Process(command, env=dict(os.environ), log=tmp_path / "prometheus.log", cwd=directory)
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    process.wait_for_http(url + "/-/ready")
    return url


def query(prometheus: str, expr: str) -> float | None:
    answer = requests.get(prometheus + "/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def eventually(prometheus: str, expr: str, *, at_least: float, timeout: float = 60) -> float:
    wait_until(lambda: (query(prometheus, expr) or 0) >= at_least, timeout=timeout, interval=1)
    return query(prometheus, expr)


def test_prometheus_reads_provisioning_and_http_metrics_after_an_order_goes_through(
    sim, celery_worker_factory, processes, tmp_path, plan_factory, customer_factory,
    member_factory,
):  # fmt: skip
    if shutil.which("prometheus") is None:
        pytest.skip("Debian's `prometheus` is not installed here (apt-get install prometheus)")
    from portal.apikeys.services import apikey_create

    plan = plan_factory(provider="IBM")
    customer = customer_factory(name_prefix="acme")
    owner = member_factory(role="owner", customer=customer).user
    _key, raw_key = apikey_create(name="live stack", created_by=owner, customer=customer)

    worker_port = free_port()
    worker = celery_worker_factory(
        env=portal_env(
            sim, tmp_path, WORKER_METRICS_PORT=str(worker_port),
            WORKER_METRICS_ADDRESS="127.0.0.1",
        ),
        beat=True,
    )  # fmt: skip
    web_port = free_port()
    web = Process(
        [
            # Through the test clock, like the worker, so both agree on "now".
            sys.executable, "-m", "tests.fixtures.clocked", "gunicorn", "portal.wsgi:application",
            "--bind", f"127.0.0.1:{web_port}", "--workers", "2", "--timeout", "60",
        ],
        env=portal_env(sim, tmp_path, VAR_DIR=str(tmp_path / "web")),
        log=tmp_path / "gunicorn.log",
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    processes.append(web)
    portal = f"http://127.0.0.1:{web_port}"
    web.wait_for_http(portal + "/healthz/live")
    assert requests.get(portal + "/metrics", timeout=5).status_code == 401

    prometheus = start_prometheus(
        tmp_path, {"portal-web": web_port, "portal-worker": worker_port}, processes
    )
    assert eventually(prometheus, 'sum(up{job=~"portal-.*"})', at_least=2) == 2, (
        web.log() + worker.log()
    )

    auth = {"Authorization": f"Bearer {raw_key}"}
    placed = requests.post(
        portal + "/api/v1/orders/",
        json={
            "customer": customer.pk, "plan": plan.pk, "name": "media",
            "provider": "IBM", "region": "us-east",
        },
        headers={**auth, "Idempotency-Key": "live-stack-1", "X-Request-ID": "order-req-0001"},
        timeout=30,
    )  # fmt: skip
    assert placed.status_code == 201, placed.text
    assert placed.headers["X-Request-ID"] == "order-req-0001"
    filespace_id = placed.json()["filespace"]

    def provisioned() -> bool:
        state = Filespace.objects.values_list("state", flat=True).get(pk=filespace_id)
        return state == Filespace.State.PROVISIONED

    try:
        wait_until(provisioned, timeout=60)
    except pytest.fail.Exception:
        pytest.fail(f"not provisioned; worker log:\n{worker.log()}")
    for _ in range(3):
        got = requests.get(f"{portal}/api/v1/filespaces/{filespace_id}/", headers=auth, timeout=10)
        assert got.status_code == 200

    # Provisioning, read through Prometheus: the web's gauges and the worker's counters.
    assert eventually(prometheus, 'portal_filespaces{state="provisioned"}', at_least=1) == 1
    ready = 'sum(portal_filespace_order_to_ready_seconds_count{job="portal-worker"})'
    assert eventually(prometheus, ready, at_least=1) == 1
    created = (
        'sum(portal_lucidlink_requests_total{job="portal-worker",operation="POST /filespaces"})'
    )
    assert eventually(prometheus, created, at_least=1) >= 1
    tasks = (
        'sum(portal_celery_tasks_total{job="portal-worker",'
        'task="provisioning.tasks.create_filespace",outcome="success"})'
    )
    assert eventually(prometheus, tasks, at_least=1) >= 1
    assert eventually(
        prometheus, 'sum(portal_lucidlink_token_fetches_total{result="ok"})', at_least=1
    )

    # HTTP, summed over both gunicorn workers by the multiprocess collector.
    posts = 'sum(portal_http_requests_total{view="api:order-list",method="POST",status="201"})'
    assert eventually(prometheus, posts, at_least=1) == 1
    reads = 'sum(portal_http_requests_total{view="api:filespace-detail",status="200"})'
    assert eventually(prometheus, reads, at_least=3) == 3
    latency = 'sum(portal_http_request_duration_seconds_count{view="api:order-list"})'
    assert eventually(prometheus, latency, at_least=1) == 1
    assert query(prometheus, 'min(portal_metrics_collector_up{job="portal-web"})') == 1
    # gunicorn.conf.py gave the web workers their shared multiprocess directory.
    assert list((tmp_path / "web" / "metrics" / "web").glob("counter_*.db")), web.log()

    # Prometheus loaded the project's alert rules.
    rules = requests.get(prometheus + "/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {group["name"] for group in rules} >= {"portal-provisioning", "portal-lucidlink"}

    # The task the order enqueued logged with the order request's id and customer.
    lines = [
        json.loads(line)
        for line in worker.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    from_order = [line for line in lines if line.get("request_id") == "order-req-0001"]
    assert from_order, worker.log()
    assert {line.get("customer_id") for line in from_order} == {str(customer.pk)}
    assert all(line.get("task_id") for line in from_order)
