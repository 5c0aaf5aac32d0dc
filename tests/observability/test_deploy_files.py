"""deploy/: Prometheus's configuration and alert rules pass promtool, the alerts fire as their
unit tests say, the Grafana dashboard parses, and both ask only for metrics the portal exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from portal.observability import collectors
from portal.observability import metrics as _metrics  # noqa: F401 - registers every metric

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "filespace-portal.json"
PORTAL_NAME = re.compile(r"\bportal_[a-z_]+")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed here (apt-get install prometheus); CI installs it")
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def exported_names(db) -> set[str]:
    """Every sample name the portal can expose: counters and histograms, and the DB gauges."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("portal_"):
            names |= {family.name, f"{family.name}_total"}
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    for family in collectors.PortalCollector().collect():
        names.add(family.name)
    return names


def test_promtool_accepts_the_alert_rules():
    done = run(promtool(), "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_each_alert_fires_as_its_promtool_unit_test_says():
    done = run(promtool(), "test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_prometheus_configuration(tmp_path):
    # The compose secret is not there outside a container; point at a stand-in file.
    shutil.copytree(PROMETHEUS, tmp_path / "prometheus")
    token = tmp_path / "token"
    token.write_text("t")
    config = tmp_path / "prometheus" / "prometheus.yml"
    config.write_text(config.read_text().replace("/run/secrets/metrics-token", str(token)))
    done = run(promtool(), "check", "config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_runbook_section_in_the_docs():
    docs = (ROOT / "docs" / "observability.md").read_text().lower()
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 6
    for alert in alerts:
        assert f"### {alert.lower()}" in docs, alert


def test_the_alerts_ask_only_for_exported_metrics(exported_names):
    used = set(PORTAL_NAME.findall((PROMETHEUS / "alerts.yml").read_text()))
    assert used and not used - exported_names, sorted(used - exported_names)


def test_the_dashboard_parses_and_queries_only_exported_metrics(exported_names):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    used = set(PORTAL_NAME.findall(" ".join(exprs)))
    assert not used - exported_names, sorted(used - exported_names)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_compose_runs_prometheus_scraping_the_web_and_every_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "prometheus" in services
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "./deploy/prometheus:/etc/prometheus" in mounts
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    workers = [name for name in services if name.startswith("worker-")]
    assert len(workers) == 4
    for name in workers:
        worker_port = int(services[name]["environment"]["WORKER_METRICS_PORT"])
        assert jobs["portal-worker"]["dns_sd_configs"][0]["port"] == worker_port
    assert sorted(jobs["portal-worker"]["dns_sd_configs"][0]["names"]) == sorted(workers)
    assert jobs["portal-web"]["dns_sd_configs"][0]["names"] == ["web"]
    assert "web" in services["web"]["environment"]["ALLOWED_HOSTS"]
    # Prometheus's token is the one the portal checks.
    assert compose["secrets"]["metrics-token"]["environment"] == "METRICS_TOKEN"
    assert "METRICS_TOKEN" in services["web"]["environment"]
